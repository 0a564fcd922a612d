# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Pinot and the Kubernetes modules share: bad-input errors, the failure report, the wait loop, readable diff
paths, secret masking."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from ansible.module_utils.basic import missing_required_lib

SECRET_KEY_PATTERN = re.compile(
    r"(password|passwd|secret|token|jaas|credential|auth\.user\.info|access[._-]?key|private[._-]?key|api[._-]?key)",
    re.IGNORECASE,
)
REDACTED = "********"


class SpecError(Exception):
    """Bad input. The message names the offending field; nothing has been written."""

    def __init__(self, field: str | None, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)

    def within(self, prefix: str) -> SpecError:
        """The same error for an object nested under `prefix` (e.g. one of several definitions)."""
        return SpecError(f"{prefix}.{self.field}" if self.field else prefix, self.message)


def require_library(module, name, import_error):
    """Fail the module, as Ansible does, when the Python library `name` it needs could not be imported (its
    import error is not None)."""
    if import_error is not None:
        module.fail_json(msg=missing_required_lib(name), exception=import_error)


def fail_cleanly(module, exc, sent, **extra):
    """The one failure report of every module: the message, what was already sent (a failure after a write still
    changed something), the offending field of bad input, and whatever the caller adds (`extra`)."""
    details = dict(msg=str(exc), changed=bool(sent), executed_requests=sent, **extra)
    if isinstance(exc, SpecError):
        details["field"] = exc.field
    module.fail_json(**details)


def poll_until(read, done, timeout, timed_out, *, interval=2.0, clock=None, sleep=None):
    """Call `read()` until `done(value)` and return that value; after `timeout` seconds, raise
    `timed_out(value)` (an exception made from the last value), or return that value when `timed_out` is None.
    The last sleep ends at the deadline, where `read()` has its last try. The wait loop of both stacks; `clock`
    and `sleep` default to the time module's."""
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    deadline = clock() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if clock() >= deadline:
            if timed_out is None:
                return value
            raise timed_out(value)
        sleep(min(interval, max(0.0, deadline - clock())))


def diff_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two JSON-like values differ: a readable 'what changed' list."""
    if isinstance(before, dict) and isinstance(after, dict):
        paths = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{prefix}.{key}" if prefix else str(key)
            if key not in before:
                paths.append(f"{sub} (added)")
            elif key not in after:
                paths.append(f"{sub} (removed)")
            else:
                paths.extend(diff_paths(before[key], after[key], sub))
        return paths
    if before == after:
        return []
    if before is None:
        return [f"{prefix or '.'} (created)"]
    if after is None:
        return [f"{prefix or '.'} (deleted)"]
    return [prefix or "."]


def redact(obj: Any, secrets: Iterable[str] | None = None) -> Any:
    """A copy with values under secret-looking keys (and any known secret value) masked."""
    if isinstance(obj, dict):
        return {key: (REDACTED if isinstance(key, str) and SECRET_KEY_PATTERN.search(key) and value not in (None, "")
                      else redact(value, secrets))
                for key, value in obj.items()}
    if isinstance(obj, list):
        return [redact(value, secrets) for value in obj]
    if isinstance(obj, str) and secrets:
        for secret in secrets:
            if secret and secret in obj:
                obj = obj.replace(secret, REDACTED)
    return obj


def secret_values(obj: Any) -> set[str]:
    """Every value stored under a secret-looking key, so the module can mask it everywhere (no_log)."""
    found = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(key, str) and SECRET_KEY_PATTERN.search(key) and isinstance(value, (str, int, float)):
                if str(value):
                    found.add(str(value))
            else:
                found |= secret_values(value)
    elif isinstance(obj, list):
        for value in obj:
            found |= secret_values(value)
    return found
