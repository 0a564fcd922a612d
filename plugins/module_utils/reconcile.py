# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile engine: read live state, normalise, compare, write only the difference, re-read, report.

A *handler* knows one kind of object (schema, table, tenant, ...). The engine owns the flow, check mode,
diff and the honest `changed`, so every module behaves the same way.
"""

from __future__ import annotations

import copy
import json
import re
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.text.converters import to_native

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None

SECRET_KEY_PATTERN = re.compile(
    r"(password|passwd|secret|token|jaas|credential|auth\.user\.info|access[._-]?key|private[._-]?key|api[._-]?key)",
    re.IGNORECASE,
)
REDACTED = "********"


class SpecError(Exception):
    """Bad input. The message names the offending field; nothing has been written."""

    def __init__(self, field, message):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)

    def within(self, prefix):
        """The same error for an object nested under `prefix` (e.g. one of several definitions)."""
        return SpecError(f"{prefix}.{self.field}" if self.field else prefix, self.message)


class Handler:
    """One kind of managed object. Subclasses implement the methods that raise NotImplementedError."""

    kind = "object"

    def __init__(self, client, name, check_mode=False):
        self.client = client
        self.name = name
        self.check_mode = check_mode
        self.extra_result = {}  # module-specific result keys, e.g. a rebalance or reload job
        self.warnings = []

    def read(self):
        """The live object, or None when absent."""
        raise NotImplementedError

    def normalise(self, obj):
        """A comparable form: what the server adds or rewrites on save is folded away."""
        return obj

    def validate(self, desired, live):
        """Raise SpecError for input the server would reject or silently change. Read-only.

        Returns the desired object as the server would store it, or None where the server cannot say.
        """
        return None

    def as_stored(self, stored, live):
        """`stored` (from validate) plus what the write itself adds, given the live object (None on create)."""
        return stored

    def create(self, desired):
        raise NotImplementedError

    def update(self, desired, live):
        raise NotImplementedError

    def validate_delete(self, live):
        """Raise SpecError when the server would refuse the delete (e.g. still in use). Read-only."""

    def delete(self, live):
        raise NotImplementedError


class Plan:
    """One object's reconcile, in phases, so a bulk run can read everything and validate everything
    before its first write."""

    def __init__(self, handler, desired, state):
        self.handler = handler
        self.desired = desired
        self.state = state
        self.live = self.before = self.target = self.stored = None
        self.changed = False
        self.warnings = []

    def read(self):
        handler = self.handler
        self.live = handler.read()
        self.before = handler.normalise(self.live) if self.live is not None else None
        if self.state == "absent":
            self.changed = self.live is not None
        else:
            self.target = handler.normalise(self.desired)
            self.changed = self.before != self.target
        return self

    def check(self):
        """Read-only validation of what apply() would send; raises SpecError.

        Only an object that differs locally gets here. The server's own stored form of the request is the
        judge: when it equals the live object, nothing is written.
        """
        if not self.changed:
            return
        if self.state == "absent":
            self.handler.validate_delete(self.live)
            return
        self.stored = self.handler.validate(self.desired, self.live)
        if self.stored is not None:
            self.target = self.handler.normalise(self.handler.as_stored(self.stored, self.live))
            self.changed = self.before != self.target

    def apply(self, check_mode):
        """Write the difference (unless check mode); return the result of this object."""
        handler = self.handler
        current, after = self.live, self.target
        if self.changed and self.state == "absent":
            if not check_mode:
                handler.delete(self.live)
            current = None
        elif self.changed:
            current = self.desired
            if not check_mode:
                if self.live is None:
                    handler.create(self.desired)
                else:
                    handler.update(self.desired, self.live)
                current = handler.read()
                after = handler.normalise(current) if current is not None else None
                expected = self.target if self.stored is None else \
                    handler.normalise(handler.as_stored(self.stored, current))
                if after != expected:
                    self.warnings.append(
                        f"Pinot stored the {handler.kind} '{handler.name}' differently from the request at "
                        f"{', '.join(diff_paths(expected, after)[:5])}; the next run will report a change.")
        return dict(
            name=handler.name,
            changed=self.changed,
            before=self.before,
            after=after,
            changes=diff_paths(self.before, after) if self.changed else [],
            warnings=self.handler.warnings + self.warnings,
            object=current,
        )


def reconcile(handler, desired, state, check_mode):
    """Bring one object to `state`: read, compare, validate, write only the difference, re-read."""
    plan = Plan(handler, desired, state).read()
    plan.check()
    return plan.apply(check_mode)


def reconcile_many(plans, check_mode, label="definitions", workers=8):
    """Bulk path: concurrent reads, then every validation, then the writes in order."""
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(plans)))) as pool:
        list(pool.map(Plan.read, plans))
    for index, plan in enumerate(plans):
        try:
            plan.check()
        except SpecError as exc:
            raise exc.within(f"{label}[{index}]") from None
    return [plan.apply(check_mode) for plan in plans]


def diff_paths(before, after, prefix=""):
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


def redact(obj, secrets=None):
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


def secret_values(obj):
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


def load_definition(params, option, src_option="src"):
    """The desired object from the `option` dict or the JSON/YAML file named by `src`."""
    definition = params.get(option)
    src = params.get(src_option)
    if definition is None and src is None:
        return None
    if definition is not None:
        return copy.deepcopy(definition)
    try:
        with open(src, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise SpecError(src_option, f"cannot read {src}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError:
        pass
    if yaml is None:  # pragma: no cover
        raise SpecError(src_option, f"{src} is not valid JSON")
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(src_option, f"{src} is neither valid JSON nor YAML: {to_native(exc)}") from None
    if not isinstance(loaded, dict):
        raise SpecError(src_option, f"{src} must hold one JSON/YAML object, not {type(loaded).__name__}")
    return loaded
