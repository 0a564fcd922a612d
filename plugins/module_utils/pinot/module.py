# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every Pinot module does around the engine: connect, load input, reconcile, report, fail cleanly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.common import (
    SpecError,
    fail_cleanly,
    redact,
    require_library,
    secret_values,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import (
    REQUESTS_IMPORT_ERROR,
    PinotClient,
    PinotError,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import (
    DEFINITIONS,
    Handler,
    Plan,
    reconcile,
    reconcile_many,
)

# For type hints: what a module hands the glue. `build(client, params, check_mode)` -> (handler, desired);
# `bulk(params, definition)` -> the parameters of one definition.
Build = Callable[[PinotClient, dict[str, Any], bool], tuple[Handler, Any]]
Bulk = Callable[[dict[str, Any], Any], dict[str, Any]]


def connect(module):
    require_library(module, "requests", REQUESTS_IMPORT_ERROR)
    return PinotClient.from_params(module.params)


def fills(option: str) -> Bulk:
    """Bulk definitions that are each the value of one option (a schema, a table config)."""
    def params_for(params, definition):
        return dict(params, name=None, src=None, **{option: definition})
    return params_for


def per_object_options(params: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    """Bulk definitions that are each the module's per-object options (Ansible has checked them as suboptions);
    one without a state takes the task's."""
    return dict(params, **{key: value for key, value in definition.items() if value is not None})


def run_reconcile(module: AnsibleModule, build: Build, bulk: Bulk | None = None) -> None:
    """`build(client, params, check_mode)` returns (handler, desired); the rest is common to every module.

    With `definitions` set (bulk path), `bulk(params, definition)` gives the parameters of one definition.
    """
    client = connect(module)
    if bulk and module.params.get(DEFINITIONS) is not None:
        run_bulk(module, client, build, bulk)
    try:
        handler, desired = build(client, module.params, module.check_mode)
        mask_secrets(module, desired)
        outcome = reconcile(handler, desired, module.params["state"], module.check_mode)
    except (SpecError, PinotError) as exc:
        fail(module, client, exc)
    for warning in outcome["warnings"]:
        module.warn(warning)
    result = dict(changed=outcome["changed"], changes=outcome["changes"],
                  executed_requests=client.executed_requests)
    result[handler.kind] = redact(outcome["object"])
    result.update(handler.extra_result)
    if module._diff:
        result["diff"] = dict(before=redact(outcome["before"]) or {}, after=redact(outcome["after"]) or {})
    module.exit_json(**result)


def run_bulk(module: AnsibleModule, client: PinotClient, build: Build, bulk: Bulk) -> None:
    """Many objects in one execution: every definition is read (concurrently) and validated before any write."""
    plans = []
    for index, definition in enumerate(module.params[DEFINITIONS]):
        params = bulk(module.params, definition)
        try:
            handler, desired = build(client, params, module.check_mode)
        except SpecError as exc:
            fail(module, client, exc.within(f"{DEFINITIONS}[{index}]"))
        mask_secrets(module, desired)
        plans.append(Plan(handler, desired, params["state"]))
    try:
        outcomes = reconcile_many(plans, module.check_mode)
    except (SpecError, PinotError) as exc:
        fail(module, client, exc)
    results = []
    for outcome in outcomes:
        for warning in outcome["warnings"]:
            module.warn(warning)
        results.append(dict(outcome["identity"], changed=outcome["changed"], changes=outcome["changes"]))
    # The definitions are not echoed back in `invocation` (Ansible's default): a bulk run's result would carry
    # every definition again, which the module (no_log scan), the worker and the controller then each walk.
    invocation = {"module_args": dict(module.params, **{DEFINITIONS: f"{len(results)} definitions (see results)"})}
    result = dict(changed=any(item["changed"] for item in results), results=results,
                  executed_requests=client.executed_requests, invocation=invocation)
    if module._diff:
        changed = [outcome for outcome in outcomes if outcome["changed"]]
        result["diff"] = dict(before={item["label"]: redact(item["before"]) for item in changed},
                              after={item["label"]: redact(item["after"]) for item in changed})
    module.exit_json(**result)


def mask_secrets(module: AnsibleModule, desired: Any) -> None:
    for value in secret_values(desired):
        module.no_log_values.add(value)


def fail(module, client, exc):
    """One clear message; what was already written (if anything) is listed for the operator, with the HTTP status,
    and what the error carries for the report (`extra_result`: Pinot's exceptions of a query, the minion tasks
    that failed)."""
    status = {"status": exc.status} if isinstance(exc, PinotError) else {}
    fail_cleanly(module, exc, client.executed_requests, **status, **redact(getattr(exc, "extra_result", None) or {}))


def run_operation(module: AnsibleModule,
                  operate: Callable[[PinotClient, dict[str, Any], bool], dict[str, Any]]) -> None:
    """Modules that act on a live object rather than store one (pause a table): `operate(client, params,
    check_mode)` reads, decides and writes; it returns the result, with `diff` (None when there is nothing to diff)
    and `warnings` for the glue."""
    client = connect(module)
    try:
        result = operate(client, module.params, module.check_mode)
    except (SpecError, PinotError) as exc:
        fail(module, client, exc)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    diff = result.pop("diff")
    if module._diff and diff is not None:
        result["diff"] = diff
    module.exit_json(executed_requests=client.executed_requests, **result)


def run_info(module: AnsibleModule, read: Callable[[PinotClient, dict[str, Any]], dict[str, Any]]) -> None:
    """Info modules: `read(client, params)` returns the result dict; never changes anything."""
    client = connect(module)
    try:
        result = read(client, module.params)
    except (SpecError, PinotError) as exc:
        fail(module, client, exc)
    module.exit_json(changed=False, **redact(result))
