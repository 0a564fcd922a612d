# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile engine: read live state, normalise, compare, write only the difference, re-read, report.

A *handler* knows one kind of object (schema, table, tenant, ...). The engine owns the flow, check mode,
diff and the honest `changed`, so every module behaves the same way.
"""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible.module_utils.common.text.converters import to_native

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError, diff_paths

DEFINITIONS = "definitions"  # the bulk option of every module that has one; errors name its items by index


class Handler:
    """One kind of managed object. Subclasses implement the methods that raise NotImplementedError."""

    kind = "object"

    def __init__(self, client, name, check_mode=False):
        self.client = client
        self.name = name
        self.check_mode = check_mode
        self.extra_result = {}  # module-specific result keys, e.g. a rebalance or reload job
        self.warnings = []

    @property
    def identity(self):
        """What tells this object apart from others of its kind in one bulk run, as reported per definition."""
        return {"name": self.name}

    @property
    def label(self):
        """The identity as one string (bulk diffs are keyed by it)."""
        return " ".join(str(value) for value in self.identity.values())

    @classmethod
    def validate_together(cls, plans):
        """Raise SpecError for definitions of one bulk run that contradict each other. Read-only."""
        labels = [plan.handler.label for plan in plans]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise SpecError(DEFINITIONS, f"names {', '.join(duplicates)} more than once")

    @classmethod
    def observe(cls, plans):
        """Read what the plans need beyond their objects, once for all of them (a tenant shared by many tables is
        read once), after every plan was read and before any is checked. Read-only."""

    def read(self):
        """The live object, or None when absent."""
        raise NotImplementedError

    def normalise(self, obj):
        """A comparable form: what the server adds or rewrites on save is folded away."""
        return obj

    def validate_with_server(self, desired, live):
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

    def converge(self, live, changes, check_mode):
        """After the object is stored (in check mode: instead), bring in line what the object governs beyond itself
        (a table's segments after a placement change, or when they departed from it). `changes` are the object's
        changed paths. Returns (before, after) of that state, each a dict of top-level keys of its own, for the
        diff; None when it was in line. Predicts without writing in check mode."""
        return None


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
        self.stored = self.handler.validate_with_server(self.desired, self.live)
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
        before, changed = self.before, self.changed
        changes = diff_paths(before, after) if changed else []
        converged = handler.converge(self.live, changes, check_mode) if self.state == "present" else None
        if converged:
            before, after = dict(before or {}, **converged[0]), dict(after or {}, **converged[1])
            changed, changes = True, changes + diff_paths(converged[0], converged[1])
        return dict(
            name=handler.name,
            identity=handler.identity,
            label=handler.label,
            changed=changed,
            before=before,
            after=after,
            changes=changes,
            warnings=self.handler.warnings + self.warnings,
            object=current,
        )


def reconcile(handler: Handler, desired: dict[str, Any] | None, state: str, check_mode: bool) -> dict[str, Any]:
    """Bring one object to `state`: read, compare, validate, write only the difference, re-read."""
    plan = Plan(handler, desired, state).read()
    type(handler).observe([plan])
    plan.check()
    return plan.apply(check_mode)


def reconcile_many(plans: list[Plan], check_mode: bool, workers: int = 8) -> list[dict[str, Any]]:
    """Bulk path: concurrent reads, then every validation, then the writes in order."""
    if plans:
        type(plans[0].handler).validate_together(plans)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(plans)))) as pool:
        list(pool.map(Plan.read, plans))
    if plans:
        type(plans[0].handler).observe(plans)
    for index, plan in enumerate(plans):
        try:
            plan.check()
        except SpecError as exc:
            raise exc.within(f"{DEFINITIONS}[{index}]") from None
    return [plan.apply(check_mode) for plan in plans]


def load_definition(params: dict[str, Any], option: str, src_option: str = "src") -> dict[str, Any] | None:
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


def name_in_definition(definition: dict[str, Any], key: str, name: str | None, option: str) -> str:
    """The object's name as the definition's `key` holds it, filled from the module's `name` when absent;
    `option` names the definition's option in errors."""
    given = definition.get(key)
    if given is None and name:
        definition[key] = given = name
    if not isinstance(given, str) or not given:
        raise SpecError(f"{option}.{key}", "is required")
    return given
