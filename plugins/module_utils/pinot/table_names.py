# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Table names and types, for every module that acts on a table (configs, consumption, reloads, rebalances)."""

from __future__ import annotations

from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import TABLE_TYPES, TYPE_SUFFIX
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient


def raw_name(name: str) -> str:
    for suffix in TYPE_SUFFIX.values():
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def table_types(client: PinotClient, name: str, table_type: str | None = None) -> list[str]:
    """The types of `name` that exist (only `table_type`, when given); SpecError when there is none."""
    found = client.get("/tables/" + quote(name, safe=""), missing_ok=True) or {}
    types = [kind for kind in TABLE_TYPES if found.get(kind) and table_type in (None, kind)]
    if not types:
        kind = f"{table_type} table" if table_type else "table"
        raise SpecError("name", f"no {kind} named '{name}'")
    return types
