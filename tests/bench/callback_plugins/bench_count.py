# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper: counts module executions (one per task run, one per loop item) and writes them as JSON."""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_count
type: aggregate
short_description: Count module executions for the benchmark
description:
  - Writes the number of module executions (per task, and in total), each task's wall time and the result of
    every pinot_cluster_rollout run (its steps and their seconds) to the file named by E(BENCH_COUNT_FILE).
  - Controller-side actions (set_fact, debug, assert, include/import, meta) are not counted.
options: {}
"""

import json  # noqa: E402 - DOCUMENTATION comes first, as in every Ansible plugin
import os  # noqa: E402 - DOCUMENTATION comes first, as in every Ansible plugin
import time  # noqa: E402 - DOCUMENTATION comes first, as in every Ansible plugin
from collections import Counter  # noqa: E402 - DOCUMENTATION comes first, as in every Ansible plugin

from ansible.plugins.callback import CallbackBase  # noqa: E402 - DOCUMENTATION comes first, as in every Ansible plugin

CONTROLLER_SIDE = ("set_fact", "debug", "assert", "include_tasks", "import_tasks", "include_role", "import_role",
                   "include_vars", "meta", "fail")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_count"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.per_task = Counter()
        self.seconds = {}
        self.rollouts = []
        self.started = None
        self.current = None

    def _close_task(self):
        if self.current is not None:
            self.seconds[self.current] = round(self.seconds.get(self.current, 0) + time.monotonic() - self.started, 3)
            self.current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close_task()
        self.current, self.started = task.get_name(), time.monotonic()

    def _count(self, result, item):
        action = result._task.action.rsplit(".", 1)[-1]
        if action in CONTROLLER_SIDE:
            return
        if not item and (result._task.loop or result._task.loop_with):  # a loop's summary: items counted already
            return
        self.per_task[result._task.get_name()] += 1

    def v2_runner_on_ok(self, result):
        self._count(result, False)
        if result._task.action.endswith("pinot_cluster_rollout"):
            self.rollouts.append({key: result._result.get(key) for key in ("elapsed_seconds", "preflight_seconds",
                                                                           "steps", "request_counts")})

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result, False)

    def v2_runner_item_on_ok(self, result):
        self._count(result, True)

    def v2_runner_item_on_failed(self, result):
        self._count(result, True)

    def v2_playbook_on_stats(self, stats):
        self._close_task()
        path = os.environ.get("BENCH_COUNT_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                counts = {"module_executions": sum(self.per_task.values()), "per_task": dict(self.per_task),
                          "task_seconds": self.seconds, "rollouts": self.rollouts}
                json.dump(counts, handle)
