"""Running a module's EXAMPLES tasks as written, one task per ansible-playbook run (tests/integration/*examples*)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COLLECTIONS = REPO / "collections"
EXAMPLE_URL = "http://localhost:9000"
# Whose examples test_examples.py runs (Pinot only) and test_cluster_examples.py runs (Kubernetes, gates).
RESOURCE_MODULES = ("pinot_schema", "pinot_schema_info", "pinot_table", "pinot_table_consumption",
                    "pinot_table_info", "pinot_table_rebalance", "pinot_table_reload", "pinot_tenant",
                    "pinot_tenant_info", "pinot_tenant_rebalance", "pinot_user", "pinot_user_info")
CLUSTER_MODULES = ("pinot_cluster", "pinot_cluster_event", "pinot_cluster_info", "pinot_cluster_rollout",
                   "pinot_health")
# Examples run by their module's own integration test (they name instances, need a table with rows, ...), with the
# test file that runs them.
EXAMPLES_IN_OWN_TEST = {
    "pinot_instance": "test_pinot_instance.py",
    "pinot_logical_table": "test_pinot_logical_table.py",
    "pinot_logical_table_info": "test_pinot_logical_table.py",
    "pinot_query": "test_pinot_query.py",
    "pinot_task": "test_pinot_task.py",
    "pinot_application_quota": "test_pinot_quota.py",
    "pinot_cluster_config": "test_pinot_cluster_config.py",
    "pinot_cluster_config_info": "test_pinot_cluster_config.py",
    "pinot_database": "test_pinot_quota.py",
    "pinot_quota_info": "test_pinot_quota.py",
}


def modules_run_by(test_file: str) -> list[str]:
    """The modules whose examples `test_file` runs (EXAMPLES_IN_OWN_TEST)."""
    return [module for module, runner in EXAMPLES_IN_OWN_TEST.items() if runner == test_file]


RESULT = re.compile(r"^localhost \| (SUCCESS|CHANGED|FAILED!|UNREACHABLE!) => ", re.MULTILINE)


def examples_text(module: str) -> str:
    """The module's EXAMPLES string, read without importing the module."""
    tree = ast.parse((REPO / "plugins" / "modules" / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXAMPLES" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{module} has no EXAMPLES")


def examples(module: str, controller_url: str | None = None) -> dict[str, dict]:
    """Example tasks by name, with the controller URL substituted (the only change)."""
    text = examples_text(module)
    if controller_url is not None:
        assert EXAMPLE_URL in text, f"{module} examples no longer use {EXAMPLE_URL}"
        text = text.replace(EXAMPLE_URL, controller_url)
    tasks = yaml.safe_load(text)
    assert isinstance(tasks, list) and tasks, module
    by_name = {task["name"]: task for task in tasks}
    assert len(by_name) == len(tasks), f"{module}: example names must be unique"
    return by_name


UNUSED_CONTROLLER_URL = "http://127.0.0.1:9"  # discard port: nothing listens, nothing should ever ask


class Runner:
    """Runs one example task per playbook from a working directory holding `files/`.

    With `home`, HOME points there, so an example's `~/.kube/config` (or the client's default) is that directory's.
    """

    def __init__(self, workdir: Path, controller_url: str | None = None, home: Path | None = None):
        self.workdir = workdir
        self.controller_url = controller_url
        self.ran: set[tuple[str, str]] = set()
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(("ANSIBLE_", "PINOT_", "K8S_AUTH_", "KUBECONFIG"))}
        if home is not None:
            self.env["HOME"] = str(home)
        self.env.update(ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal",
                        ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(workdir / ".ansible-tmp"),
                        ANSIBLE_CONFIG=str(workdir / "ansible.cfg"))
        (workdir / "ansible.cfg").write_text("[defaults]\n")

    def run(self, module: str, name: str, task: dict | None = None, play_vars: dict | None = None) -> dict:
        """The task's result; `failed` is True when the task failed. `play_vars` are what the example refers to."""
        task = task or examples(module, self.controller_url)[name]
        self.ran.add((module, name))
        # Every play carries controller defaults, as the README advises; the Kubernetes modules must never get them
        # (they would fail with "Unsupported parameters: controller_url").
        defaults = {"group/pinotops.k8s.pinot": {"controller_url": self.controller_url or UNUSED_CONTROLLER_URL}}
        play = [{"name": f"{module}: {name}", "hosts": "localhost", "gather_facts": False,
                 "module_defaults": defaults, "vars": play_vars or {}, "tasks": [task]}]
        (self.workdir / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
        proc = subprocess.run([str(BIN / "ansible-playbook"), "play.yml"], cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=1200, check=False)
        found = list(RESULT.finditer(proc.stdout))
        assert len(found) == 1, f"{module} / {name}: rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        result, _end = json.JSONDecoder().raw_decode(proc.stdout, found[0].end())
        result["failed"] = found[0].group(1) != "SUCCESS" and found[0].group(1) != "CHANGED"
        assert result["failed"] == (proc.returncode != 0), proc.stdout
        return result


def assert_ok(result: dict, changed: bool | None = None) -> None:
    assert not result["failed"], result
    if changed is not None:
        assert result["changed"] is changed, result


def assert_clean_failure(result: dict, *fragments: str) -> None:
    """A failure reported by the module itself: its message, no traceback, nothing written."""
    assert result["failed"], result
    assert "exception" not in result and "module_stderr" not in result, result
    assert "MODULE FAILURE" not in result["msg"] and "Traceback" not in result["msg"], result
    for fragment in fragments:
        assert fragment in result["msg"], result
    assert result["executed_requests"] == [], result
