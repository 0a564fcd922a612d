# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The channel between pinot_cluster_rollout and its action plugin: the environment variable that names the progress
file, and the module's side of it. Standard library only, so the action plugin imports it without the cluster stack
(and without the kubernetes package)."""

from __future__ import annotations

import os
import sys

PROGRESS_FILE_ENV = "PINOTOPS_ROLLOUT_PROGRESS"  # set by pinot_cluster_rollout's action plugin


class PlayChannel:
    """The rollout module's link to the play that runs it: its progress lines, and whether that play still waits.

    The lines are kept for the result and, when the action plugin gave a file (a local connection), appended to
    it one by one, so the play prints each line when it happens. The action plugin removes the file when its
    ansible-playbook has ended; this side never re-creates it. A file it may not write (another user under become)
    only loses the live display."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.writable = bool(path)
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        line = " ".join(line.split())  # one line each, whatever a message held
        self.lines.append(line)
        if self.writable:
            try:
                handle = os.open(self.path, os.O_WRONLY | os.O_APPEND)  # no O_CREAT: a removed file stays removed
                with os.fdopen(handle, "a", encoding="utf-8") as log:
                    log.write(line + "\n")
            except OSError:
                self.writable = False

    def gone(self) -> bool:
        """Whether the play that started this run has ended (its ansible-playbook killed): the action plugin
        removed the progress file, or nothing reads this process's output any more. A blank line before the
        result is dropped by Ansible."""
        if self.path and not os.path.exists(self.path):
            return True
        try:
            sys.stdout.write("\n")
            sys.stdout.flush()
        except OSError:
            return True
        return False
