# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask the controller how it would store an object: Pinot is the judge of its own normal form.

`POST /schemas/validate` and `POST /tables/validate` return the object as the controller would serialise it,
plus `unrecognizedProperties`: every input key missing from that output. That list mixes three things, which
only the server can tell apart:

* real properties whose value is the default, which Pinot serialises away (`notNull: false`);
* keys Pinot used to know and now ignores (`segmentsConfig.schemaName`, in most configs written before 1.x);
* unknown keys (typos), which Pinot would silently drop.

A key whose *changed* value the server keeps (or rejects) is a real property at its default. The rest are
unknown, except the few legacy keys below.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError

UNRECOGNIZED = "unrecognizedProperties"
# Pinot reports these like any unknown key, but they were real in older versions and configs still carry them.
LEGACY_KEYS = {
    "/segmentsConfig/schemaName": "Pinot 1.x ignores it (the schema is the one named like the table)",
}


def pointer_parts(pointer: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]


def pointer_to_field(pointer: str, root: str) -> str:
    """'/dimensionFieldSpecs/0/foo' -> 'schema.dimensionFieldSpecs[0].foo'."""
    text = root
    for part in pointer_parts(pointer):
        text += f"[{part}]" if part.isdigit() else f".{part}"
    return text


def _locate(obj, pointer):
    """(container, key) of the value at `pointer`, or None when the path does not exist."""
    parts = pointer_parts(pointer)
    for part in parts[:-1]:
        try:
            obj = obj[int(part)] if isinstance(obj, list) else obj[part]
        except (KeyError, IndexError, ValueError, TypeError):
            return None
    key = parts[-1] if parts else None
    if isinstance(obj, list) and key is not None and key.isdigit() and int(key) < len(obj):
        return obj, int(key)
    if isinstance(obj, dict) and key in obj:
        return obj, key
    return None


def _value_at(obj, pointer):
    found = _locate(obj, pointer)
    return None if found is None else found[0][found[1]]


def probe_value(value: Any) -> Any:
    """Another value of the same JSON type, or None when there is no safe one to try."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "_probe"
    return None


def _validate(client, path, body, root):
    try:
        return client.validate(path, body) or {}
    except PinotError as exc:
        if exc.status == 400:
            raise SpecError(root, f"Pinot rejects the {root}: {exc.reason}") from None
        raise


def _kept(client, path, desired, pointers):
    """The pointers whose changed value the server keeps or rejects: real properties."""
    probe = copy.deepcopy(desired)
    for pointer in pointers:
        container, key = _locate(probe, pointer)
        container[key] = probe_value(container[key])
    try:
        verdict = client.validate(path, probe) or {}
    except PinotError as exc:
        if exc.status != 400:
            raise
        if len(pointers) == 1:
            return set(pointers)  # the server parsed the key, and refused the value
        return {p for p in pointers if _kept(client, path, desired, [p])}
    still_unknown = set(verdict.get(UNRECOGNIZED) or {})
    return {p for p in pointers if p not in still_unknown}


def stored_form(client: PinotClient, path: str, desired: dict[str, Any], root: str,
                unwrap: Callable[[Any], dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """(the object as the controller would store it, warnings). Raises SpecError naming an unknown key.

    `unwrap(verdict)` picks the stored object out of the validate answer (None if the server cannot say).
    """
    verdict = _validate(client, path, desired, root)
    unknown = sorted(verdict.get(UNRECOGNIZED) or {})
    warnings = []
    for pointer in [p for p in unknown if p in LEGACY_KEYS]:
        warnings.append(f"{pointer_to_field(pointer, root)} is ignored: {LEGACY_KEYS[pointer]}; "
                        "it is left out of the comparison")
        unknown.remove(pointer)
    probeable = [p for p in unknown if probe_value(_value_at(desired, p)) is not None]
    real = _kept(client, path, desired, probeable) if probeable else set()
    unknown = [p for p in unknown if p not in real]
    if unknown:
        raise SpecError(", ".join(pointer_to_field(p, root) for p in unknown),
                        f"not a {root} property this Pinot version knows; Pinot would silently drop it")
    return unwrap(verdict), warnings
