"""Long test bed builds: their output goes to a log, and a line every 20 s says what is being built and for how long.

Stdlib only.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

PROGRESS_SECONDS = 20


def last_line(log: Path, prefix: str = "") -> str:
    """The last line of `log` that starts with `prefix`."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return next((line for line in reversed(lines) if line.startswith(prefix)), "")


def run_with_progress(command: list[str], log: Path, what: str, cwd: Path, *,
                      say: Callable[[str], None] | None = None, detail: Callable[[Path], str] = last_line) -> int:
    """Run `command` into `log`, printing `what`, the elapsed time and `detail(log)` every 20 s."""
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    began = time.monotonic()
    done = threading.Event()

    def report() -> None:
        while not done.wait(PROGRESS_SECONDS):
            current = detail(log)
            say(f"testbed: {what}: {time.monotonic() - began:.0f} s{', ' + current if current else ''}")

    say(f"testbed: {what} (log: {log})")
    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        with open(log, "w") as out:
            return subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    finally:
        done.set()
        reporter.join()
        say(f"testbed: {what}: finished in {time.monotonic() - began:.0f} s")
