# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs pinot_cluster_rollout as usual and prints its progress lines, one per pod, while it runs.

The module steps every pod inside one execution. On a local connection it appends each line to a file this plugin
made (named in the module's environment), and a thread here prints the lines as they arrive; elsewhere (or under
become, where the module may not write the file) the lines are printed from the result when the module ends.
Either way each line once.

The file is also the module's sign that the play still waits for it: when ansible-playbook is gone (killed; this
worker process is left behind), the thread removes it and the module stops before its next step instead of
rolling on beside a rerun.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.progress import PROGRESS_FILE_ENV

display = Display()
POLL_SECONDS = 0.2


class ProgressTail(threading.Thread):
    """Prints the complete lines appended to `path` until stopped, then the rest; removes `path` when the process
    that started this worker (ansible-playbook) is gone."""

    def __init__(self, path, prefix):
        super().__init__(daemon=True)
        self.path = path
        self.prefix = prefix
        self.shown = 0
        self._offset = 0
        self._finished = threading.Event()
        self._playbook = os.getppid()

    def run(self):
        while not self._finished.wait(POLL_SECONDS):
            self._show_new()
            if os.getppid() != self._playbook:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
                return
        self._show_new()

    def _show_new(self):
        try:
            with open(self.path, encoding="utf-8") as log:
                log.seek(self._offset)
                text = log.read()
        except OSError:
            return
        complete = text[:text.rfind("\n") + 1]
        self._offset += len(complete.encode("utf-8"))
        for line in complete.splitlines():
            display.display(f"{self.prefix}{line}")
            self.shown += 1

    def finish(self):
        self._finished.set()
        self.join()


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    _progress_file = None

    def _compute_environment_string(self, raw_environment_out=None):
        """The task's environment, and the progress file's name when there is one."""
        environment = {}
        super()._compute_environment_string(environment)
        if self._progress_file:
            environment[PROGRESS_FILE_ENV] = self._progress_file
        if isinstance(raw_environment_out, dict):
            raw_environment_out.clear()
            raw_environment_out.update(environment)
        return self._connection._shell.env_prefix(**environment)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        prefix = f"[{(task_vars or {}).get('inventory_hostname', self._play_context.remote_addr)}] "
        tail = None
        if getattr(self._connection, "transport", None) in ("local", "ansible.builtin.local") \
                and not self._task.async_val:
            handle, self._progress_file = tempfile.mkstemp(prefix="pinotops-rollout-", suffix=".log")
            os.close(handle)
            tail = ProgressTail(self._progress_file, prefix)
            tail.start()
        try:
            result.update(self._execute_module(module_name="pinotops.k8s.pinot_cluster_rollout",
                                               task_vars=task_vars, wrap_async=self._task.async_val))
        finally:
            if tail:
                tail.finish()
                with contextlib.suppress(OSError):
                    os.unlink(tail.path)
        for line in (result.get("progress") or [])[tail.shown if tail else 0:]:
            display.display(f"{prefix}{line}")
        return result
