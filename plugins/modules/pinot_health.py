#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_health
short_description: Wait until an Apache Pinot component, or the whole cluster, is healthy as Pinot sees it
version_added: 1.0.0
description:
  - The health gate of the rolling upgrade (role C(pinotops.k8s.pinot_upgrade)) and of the install role. Kubernetes
    readiness only says a process answers its probe; this module asks Pinot whether the component serves.
  - O(component=cluster) (pre-flight) checks the controller's C(/health) and, for every table, that no segment is in
    ERROR and that the external view equals the ideal state.
  - O(component=controller) checks C(/health) and that every lead-controller partition (C(GET /leader/tables)) has
    a live leader, plus O(instance) live when given.
  - O(component=broker) and O(component=minion) check that O(instance) is live in Helix and, with O(health_url),
    that the component's own C(/health) answers.
  - O(component=server) checks that O(instance) is live in Helix, its C(/health) with O(health_url), and that every
    segment the ideal state assigns to it is in that state in the external view (nothing ERROR or OFFLINE on it).
  - With O(before_restart=true) the module asks the opposite question, before pods are taken down. Can the
    cluster lose O(instances) now without anything becoming unavailable? For servers, every segment they serve
    (external view ONLINE or CONSUMING) must have another serving replica on a live server; for brokers, every table
    they route (Helix' broker resource) must have another live broker; for controllers, another controller must be
    live so that Helix elects a leader. Minions need nothing, the controller retries their tasks.
  - Live instances come from C(GET /liveinstances), or on controllers without it (0.11) from Helix'
    C(LIVEINSTANCES) through C(GET /zk/ls).
  - The checks repeat every O(interval) seconds until all pass or O(wait_timeout) expires; then the task fails
    naming the O(label), the failing check and why.
author:
  - pinotops maintainers (@pinotops)
options:
  component:
    description: What to check.
    type: str
    choices: [cluster, controller, broker, server, minion]
    required: true
  instance:
    description:
      - Helix instance id of the component, for example
        C(Server_pinot-server-hot-a-0.pinot-server-hot-a-headless.analytics.svc.cluster.local_8098).
    type: str
  instances:
    description:
      - With O(before_restart=true), the Helix instance ids that are about to go down together (a batch of pods);
        O(instance) alone means that one.
    type: list
    elements: str
  before_restart:
    description:
      - Check that O(instances) can be taken down now (see the description) instead of gating an instance that
        came back.
    type: bool
    default: false
  enforce:
    description:
      - V(false) reports failing checks as a warning and succeeds, for clusters that accept unavailability (for
        example replication 1, or a single broker). The checks and their details are returned either way.
    type: bool
    default: true
  health_url:
    description: Base URL of the component's own HTTP endpoint (broker query port, server admin port, minion port);
      C(/health) is appended.
    type: str
  health_url_credentials:
    description:
      - Send the controller's credentials (O(username)/O(password) or O(token)) to O(health_url) too.
      - Off by default. Pinot serves C(/health) without authentication, and a pod's health URL is usually plain
        HTTP inside the cluster, where credentials would travel in the clear.
    type: bool
    default: false
  tables:
    description: Tables (with type suffix or raw names) whose segments are checked; default every table.
    type: list
    elements: str
  wait_timeout:
    description: Seconds to keep retrying before the gate fails. V(0) checks once.
    type: int
    default: 300
  interval:
    description: Seconds between attempts.
    type: float
    default: 2.0
  label:
    description: Free text naming what is gated (e.g. C(server-hot-b 2/3 pinot-server-hot-b-1)); repeated in
      the failure message.
    type: str
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same checks in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
"""

EXAMPLES = r"""
- name: Pre-flight, every table converged and nothing in ERROR
  pinotops.k8s.pinot_health:
    controller_url: http://localhost:9000
    component: cluster
    wait_timeout: 0

- name: Gate a restarted server
  pinotops.k8s.pinot_health:
    controller_url: http://localhost:9000
    component: server
    instance: Server_pinot-server-hot-a-0.pinot-server-hot-a-headless.analytics.svc.cluster.local_8098
    health_url: http://pinot-server-hot-a-0.pinot-server-hot-a-headless.analytics.svc.cluster.local:8097
    label: server-hot-a 1/2
    wait_timeout: 600

- name: Can two servers restart together without a segment losing its last serving replica?
  pinotops.k8s.pinot_health:
    controller_url: http://localhost:9000
    component: server
    before_restart: true
    instances:
      - Server_pinot-server-hot-a-0.pinot-server-hot-a-headless.analytics.svc.cluster.local_8098
      - Server_pinot-server-hot-a-1.pinot-server-hot-a-headless.analytics.svc.cluster.local_8098
    wait_timeout: 60
"""

RETURN = r"""
healthy:
  description: Whether every check passed.
  returned: always
  type: bool
checks:
  description: The checks of the last attempt, each with C(check), C(ok) and C(detail).
  returned: always
  type: list
  elements: dict
  sample: [{"check": "live", "ok": true, "detail": "Server_x_8098 is live in Helix"}]
failed_check:
  description: Name of the first failing check.
  returned: when a check failed (also with O(enforce=false))
  type: str
attempts:
  description: How many times the checks ran.
  returned: always
  type: int
elapsed_seconds:
  description: Time spent waiting.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.common import require_library
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import (
    PINOT_CONNECTION_ARGS,
    REQUESTS_IMPORT_ERROR,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.health import (
    COMPONENTS,
    build_probe,
    failed_check,
    gate_checks,
    gate_message,
    restart_checks,
    wait_for_gate,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            PINOT_CONNECTION_ARGS,
            component=dict(type="str", required=True, choices=list(COMPONENTS)),
            instance=dict(type="str"),
            instances=dict(type="list", elements="str"),
            before_restart=dict(type="bool", default=False),
            enforce=dict(type="bool", default=True),
            health_url=dict(type="str"),
            health_url_credentials=dict(type="bool", default=False),
            tables=dict(type="list", elements="str"),
            wait_timeout=dict(type="int", default=300),
            interval=dict(type="float", default=2.0),
            label=dict(type="str"),
        ),
        mutually_exclusive=[("instance", "instances")],
        supports_check_mode=True,
    )
    require_library(module, "requests", REQUESTS_IMPORT_ERROR)
    params = module.params
    if params["before_restart"]:
        instances = params["instances"] or ([params["instance"]] if params["instance"] else [])
        if params["component"] == "cluster" or not instances:
            module.fail_json(msg="before_restart needs a component other than cluster and the instance(s) that "
                                 "are about to restart (instance or instances)")
        checks = restart_checks(params["component"], instances, params.get("tables"))
    else:
        checks = gate_checks(params["component"], params.get("instance"), params.get("health_url"),
                             params.get("tables"))
    probe = build_probe(params)
    results, attempts, elapsed = wait_for_gate(probe, checks, max(0, params["wait_timeout"]), params["interval"])
    result = dict(changed=False, healthy=all(r["ok"] for r in results), checks=results, attempts=attempts,
                  elapsed_seconds=elapsed)
    if not result["healthy"]:
        failed = failed_check(results)
        what = params.get("label") or params.get("instance") or ", ".join(params["instances"] or []) \
            or params["component"]
        msg = gate_message(failed, params["component"], what, elapsed)
        if not params["enforce"]:
            module.warn(f"{msg} (not enforced)")
            module.exit_json(failed_check=failed["check"], **result)
        module.fail_json(msg=msg, failed_check=failed["check"], **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
