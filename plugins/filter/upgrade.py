# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the pinot_upgrade role; the decisions live in module_utils/upgrade_plan.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.pinotops.k8s.plugins.module_utils.upgrade_plan import group_steps, version_order_problems


def upgrade_steps(status, cluster_name, group_spec, batch_size, instance_map):
    try:
        return group_steps(status, cluster_name, group_spec, batch_size, instance_map or {})
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def upgrade_version_problems(cluster, live_groups, order):
    return version_order_problems(cluster, live_groups or {}, list(order))


class FilterModule:
    def filters(self):
        return {"upgrade_steps": upgrade_steps, "upgrade_version_problems": upgrade_version_problems}
