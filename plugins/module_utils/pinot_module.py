# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every Pinot module does around the engine: connect, load input, reconcile, report, fail cleanly."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot_client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    PinotClient,
    PinotError,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.reconcile import (
    SpecError,
    reconcile,
    redact,
    secret_values,
)


def connect(module):
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
    return PinotClient.from_params(module.params)


def run_reconcile(module, build):
    """`build(client, params, check_mode)` returns (handler, desired); the rest is common to every module."""
    client = connect(module)
    try:
        handler, desired = build(client, module.params, module.check_mode)
        for value in secret_values(desired):
            module.no_log_values.add(value)
        outcome = reconcile(handler, desired, module.params["state"], module.check_mode)
    except (SpecError, PinotError) as exc:
        fail(module, client, exc)
    for warning in outcome["warnings"]:
        module.warn(warning)
    result = dict(
        changed=outcome["changed"],
        changes=outcome["changes"],
        executed_requests=client.executed_requests,
    )
    result[handler.kind] = redact(outcome["object"])
    result.update(handler.extra_result)
    if module._diff:
        result["diff"] = dict(before=redact(outcome["before"]) or {}, after=redact(outcome["after"]) or {})
    module.exit_json(**result)


def fail(module, client, exc):
    """One clear message; what was already written (if anything) is listed for the operator."""
    details = dict(msg=str(exc), executed_requests=client.executed_requests)
    if isinstance(exc, SpecError):
        details["field"] = exc.field
    elif isinstance(exc, PinotError):
        details["status"] = exc.status
    module.fail_json(**details)


def run_info(module, read):
    """Info modules: `read(client, params)` returns the result dict; never changes anything."""
    client = connect(module)
    try:
        result = read(client, module.params)
    except (SpecError, PinotError) as exc:
        fail(module, client, exc)
    module.exit_json(changed=False, **redact(result))
