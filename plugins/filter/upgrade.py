# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the pinot_upgrade role; the decisions live in module_utils/upgrade_plan.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.pinotops.k8s.plugins.module_utils.upgrade_plan import step_targets, version_order_problems


def upgrade_targets(pods, instances, instance_map, group, role):
    try:
        return step_targets(pods, instances or {}, instance_map or {}, group, role)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def upgrade_version_problems(cluster, live_groups, order):
    return version_order_problems(cluster, live_groups or {}, list(order))


class FilterModule:
    def filters(self):
        return {"upgrade_targets": upgrade_targets, "upgrade_version_problems": upgrade_version_problems}
