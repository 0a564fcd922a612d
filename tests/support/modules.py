"""Run a collection module in-process exactly as Ansible would (argument parsing, no_log masking, exit JSON)."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
from unittest import mock

from ansible.module_utils.common import warnings

try:  # ansible-core 2.19
    from ansible.module_utils import _internal
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # 2.18: a module reads its arguments from basic._ANSIBLE_ARGS, and knows no controller flag
    from ansible.module_utils import basic

    _internal = None

    def patch_module_args(args):
        return mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())


def run_module(name: str, args: dict, check: bool = False, diff: bool = False) -> dict:
    """The module's result dict; `failed` is set when it called fail_json, `warnings` when it warned."""
    module = importlib.import_module(f"ansible_collections.pinotops.k8s.plugins.modules.{name}")
    out = io.StringIO()
    full_args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    warnings._global_warnings.clear()
    # As on a managed host: warnings are returned in the result instead of printed by the controller.
    on_host = mock.patch.object(_internal, "is_controller", False) if _internal else contextlib.nullcontext()
    with on_host, patch_module_args(full_args), \
            contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        module.main()
    result = json.loads(out.getvalue())
    if result.get("warnings"):
        result["warnings"] = [item["event"]["msg"] if isinstance(item, dict) else item
                              for item in result["warnings"]]
    return result
