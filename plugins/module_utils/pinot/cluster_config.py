# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinot's cluster configs: the simple fields of the Helix cluster config (`/cluster/configs`), a flat map of name to
string. Every Pinot component copies them into its own configuration when it starts (its own properties win), and
some are also read while it runs.

The shared reconcile engine fits: the object is *the named keys* and nothing else. `read()` returns those of them
that exist, `create`/`update` send one `POST /cluster/configs` (Pinot merges it into the map; the other keys stay)
with only the keys that differ, `delete` one `DELETE /cluster/configs/{name}` per named key that exists. So the
engine's check mode, diff (before/after of the named keys only), `changed` and re-read after the write are the same
as every other module's, and a key nobody named is never read into the result, compared or written.

Values are strings in Pinot. A JSON number or boolean sent to it is stored as Java writes it (`true`, `8`, `0.5`,
`1.0E7`); a nested object or list is stored as an empty string. So the module converts every value to that string
form itself, sends strings and compares strings, and refuses anything that is not a scalar before any request.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import Handler

PATH = "/cluster/configs"
# What the controller writes into a new cluster's config (the same four on Pinot 1.4.0 and 1.5.1), and puts back
# when one is missing at each start. They may be set like any key, never deleted.
PINOT_KEYS = ("allowParticipantAutoJoin", "default.hyperloglog.log2m", "enable.case.insensitive",
              "pinot.broker.enable.query.limit.override")
# Helix's switch that lets new instances register themselves: a pod of pinotops joins the cluster that way when it
# starts, so false would keep every new or rescheduled pod out of it.
AUTO_JOIN = "allowParticipantAutoJoin"


def stored_form(value: Any) -> str:
    """A scalar as Pinot stores it: booleans `true`/`false`, numbers as Java's `String.valueOf` writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _java_double(value)
    return value


def _java_double(value: float) -> str:
    """Java's Double.toString: plain between 10^-3 and 10^7 (`0.5`, `8.0`), else `1.0E7`, `1.5E-4`; the shortest
    digits that read back as the same double (Python's repr finds them)."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    _sign, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digits))
    point = len(digits) + exponent  # digits before the decimal point
    prefix = "-" if value < 0 else ""
    if 1e-3 <= abs(value) < 1e7:
        if point <= 0:
            return f"{prefix}0.{'0' * -point}{digits}"
        whole, fraction = digits[:point].ljust(point, "0"), digits[point:]
        return f"{prefix}{whole}.{fraction or '0'}"
    return f"{prefix}{digits[0]}.{digits[1:] or '0'}E{point - 1}"


def check_name(name: Any, field: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise SpecError(field, f"{name!r} is not a cluster config name (a non-empty string)")
    if "/" in name:  # the controller answers DELETE /cluster/configs/a%2Fb with HTTP 500: it could never be removed
        raise SpecError(field, f"'{name}': a name with '/' cannot be deleted through Pinot's API, so it is refused")
    return name


def desired_configs(configs: Any, option: str = "configs") -> dict[str, str]:
    """The named keys and their values in Pinot's stored form; SpecError naming the first bad entry."""
    if not isinstance(configs, dict) or not configs:
        raise SpecError(option, "must be a mapping of at least one cluster config name to its value")
    desired = {}
    for name, value in configs.items():
        check_name(name, option)
        field = f"{option}.{name}"
        if value is None:
            raise SpecError(field, "has no value; to delete the key, use state=absent")
        if isinstance(value, (dict, list, tuple, set)):
            raise SpecError(field, f"must be a string, number or boolean, not a {type(value).__name__} "
                            "(Pinot would store an empty string)")
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError(field, f"{value} is not a number Pinot can store")
        if not isinstance(value, (str, int, float)):
            raise SpecError(field, f"must be a string, number or boolean, not a {type(value).__name__}")
        desired[name] = stored_form(value)
        if name == AUTO_JOIN and desired[name] != "true":
            raise SpecError(field, "false would keep every new or rescheduled Pinot pod out of the cluster (a pod "
                            "joins it when it starts); only true is accepted")
    return desired


def names_to_delete(params: dict[str, Any]) -> list[str]:
    """With state=absent: `names`, or the keys of `configs` (their values are not looked at)."""
    if params.get("names") is not None:
        option, names = "names", params["names"]
    else:
        option, names = "configs", list(params.get("configs") or {})
    if not names:
        raise SpecError(option, "must name at least one cluster config to delete")
    for index, name in enumerate(names):
        field = f"names[{index}]" if option == "names" else option
        check_name(name, field)
        if name in PINOT_KEYS:
            raise SpecError(field, f"'{name}' is one of the keys Pinot writes into every cluster's config "
                            f"({', '.join(PINOT_KEYS)}); set it to a value instead of deleting it")
    if len(set(names)) != len(names):
        raise SpecError(option, "names a key twice")
    return list(names)


def read_configs(client: PinotClient) -> dict[str, Any]:
    found = client.get(PATH)
    return found if isinstance(found, dict) else {}


class ClusterConfigHandler(Handler):
    """The named keys of the cluster config as one object. To set them, the object always exists (none of the keys
    set yet is an empty map, so `changes` name each key added); to delete them, it exists while one of them does."""

    kind = "cluster_configs"

    def __init__(self, client, names, check_mode=False, deleting=False):
        super().__init__(client, ", ".join(names), check_mode)
        self.names = list(names)
        self.deleting = deleting

    def read(self):
        live = read_configs(self.client)
        owned = {name: live[name] for name in self.names if name in live}
        return None if self.deleting and not owned else owned

    def normalise(self, obj):
        return dict(sorted(obj.items()))

    def create(self, desired):
        self.client.post(PATH, body=desired)

    def update(self, desired, live):
        self.client.post(PATH, body={name: value for name, value in desired.items() if live.get(name) != value})

    def delete(self, live):
        for name in live:
            self.client.delete(PATH + "/" + quote(name, safe=""))


def build(client: PinotClient, params: dict[str, Any],
          check_mode: bool) -> tuple[ClusterConfigHandler, dict[str, str] | None]:
    if params.get("state") == "absent":
        return ClusterConfigHandler(client, names_to_delete(params), check_mode, deleting=True), None
    if params.get("names") is not None:
        raise SpecError("names", "is for state=absent; to set keys, give configs with their values")
    desired = desired_configs(params.get("configs"))
    return ClusterConfigHandler(client, list(desired), check_mode), desired


def read_info(client: PinotClient, params: dict[str, Any]) -> dict[str, Any]:
    """Every cluster config, or the named ones that exist (a name that is not set is not in the result)."""
    live = read_configs(client)
    names = params.get("names")
    if names is None:
        return {"cluster_configs": dict(sorted(live.items()))}
    for index, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise SpecError(f"names[{index}]", "must be a non-empty string")
    return {"cluster_configs": {name: live[name] for name in names if name in live}}
