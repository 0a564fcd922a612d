# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinot broker and server tenants: they exist through instance tags, so reads come first."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import (
    BROKER_TAG_SUFFIX,
    INSTANCE_PREFIX,
    SERVER_TAG_SUFFIXES,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import DEFINITIONS, Handler

ROLES = ("BROKER", "SERVER")
UNTAGGED = {"BROKER": "broker_untagged", "SERVER": "server_untagged"}


def tenant_tags(name: str, role: str) -> list[str]:
    return [name + BROKER_TAG_SUFFIX] if role == "BROKER" else [name + suffix for suffix in SERVER_TAG_SUFFIXES]


class TenantHandler(Handler):
    kind = "tenant"

    def __init__(self, client, name, role, *, check_mode=False, explicit_instances=False):
        super().__init__(client, name, check_mode)
        self.role = role
        self.explicit_instances = explicit_instances
        self.untagged_without_tag = []  # servers with no tag at all: Pinot before 1.3 will not pick them

    @property
    def identity(self):
        return {"name": self.name, "role": self.role}

    @classmethod
    def validate_together(cls, plans):
        super().validate_together(plans)
        named_by = {}
        for plan in plans:
            handler = plan.handler
            if plan.state == "present" and handler.explicit_instances:
                for name in plan.desired["instanceNames"]:
                    named_by.setdefault(name, []).append(handler.label)
        for name, tenants in sorted(named_by.items()):
            if len(tenants) > 1:
                raise SpecError(DEFINITIONS, f"instance '{name}' is named by {' and '.join(tenants)}; an "
                                "instance serves one tenant of its role")

    @property
    def path(self):
        return "/tenants/" + quote(self.name, safe="")

    def read(self):
        found = self.client.get(self.path, params={"type": self.role.lower()}, missing_ok=True)
        if found is None:
            return None
        if self.role == "BROKER":
            return {"tenantName": self.name, "tenantRole": "BROKER",
                    "instances": sorted(found.get("BrokerInstances") or [])}
        return {"tenantName": self.name, "tenantRole": "SERVER",
                "instances": sorted(found.get("ServerInstances") or []),
                "offlineInstances": sorted(found.get("OfflineServerInstances") or []),
                "realtimeInstances": sorted(found.get("RealtimeServerInstances") or [])}

    def normalise(self, obj):
        """Counts (and the instance list when the definition names instances)."""
        if "instances" not in obj:  # the desired body (Pinot's POST /tenants shape, plus instanceNames)
            return dict(obj)
        result = {"tenantName": obj["tenantName"], "tenantRole": obj["tenantRole"],
                  "numberOfInstances": len(obj["instances"])}
        if self.role == "SERVER":
            result["offlineInstances"] = len(obj["offlineInstances"])
            result["realtimeInstances"] = len(obj["realtimeInstances"])
        if self.explicit_instances:
            result["instanceNames"] = obj["instances"]
        return result

    def _instance(self, name):
        return self.client.get("/instances/" + quote(name, safe=""), missing_ok=True)

    def _untagged_live(self):
        """Live instances of this role a POST /tenants may take (tagged untagged, or no tags for servers)."""
        # /liveinstances exists from Pinot 1.0; before that every registered instance is a candidate.
        live = (self.client.get("/liveinstances", missing_ok=True) or self.client.get("/instances") or {}).get(
            "instances") or []
        free, busy = [], {}
        for name in sorted(i for i in live if i.startswith(INSTANCE_PREFIX[self.role.lower()])):
            tags = (self._instance(name) or {}).get("tags") or []
            if UNTAGGED[self.role] in tags:
                free.append(name)
            elif self.role == "SERVER" and not tags:
                free.append(name)
                self.untagged_without_tag.append(name)
            else:
                busy[name] = tags
        return free, busy

    def validate_with_server(self, desired, live):
        if self.explicit_instances:
            for index, name in enumerate(desired["instanceNames"]):
                if not name.startswith(INSTANCE_PREFIX[self.role.lower()]):
                    raise SpecError(f"instances[{index}]", f"'{name}' is not a {self.role.lower()} instance")
                if self._instance(name) is None:
                    raise SpecError(f"instances[{index}]", f"no instance named '{name}' in the cluster")
            return
        current = (live or {}).get("instances") or []
        if self.role == "SERVER" and live is not None and (
                desired["numberOfInstances"] < len(current)
                or desired["offlineInstances"] < len(live["offlineInstances"])
                or desired["realtimeInstances"] < len(live["realtimeInstances"])):
            raise SpecError("instance_count", f"server tenant '{self.name}' has {len(current)} instances; Pinot "
                            "cannot shrink a server tenant. Name the instances to keep with 'instances' instead")
        needed = desired["numberOfInstances"] - len(current)
        if needed > 0:
            free, busy = self._untagged_live()
            if len(free) < needed:
                raise SpecError("instance_count", f"{self.role.lower()} tenant '{self.name}' needs {needed} more "
                                f"untagged live {self.role.lower()} instance(s) but {len(free)} are available "
                                f"({', '.join(f'{name}: {tags}' for name, tags in busy.items()) or 'none live'}). "
                                "Free instances by placing named 'instances' into tenants, or start more.")

    def create(self, desired):
        if self.explicit_instances:
            self._place(desired["instanceNames"], [])
            return
        for name in self.untagged_without_tag:
            self._set_tags(name, [UNTAGGED[self.role]])
        self.client.post("/tenants", body=desired)

    def update(self, desired, live):
        if self.explicit_instances:
            self._place(desired["instanceNames"], live["instances"])
        else:
            for name in self.untagged_without_tag:
                self._set_tags(name, [UNTAGGED[self.role]])
            self.client.put("/tenants", body=desired)

    def _place(self, wanted, current):
        """Tag the named instances into the tenant; instances no longer named go back to the untagged pool."""
        tags = tenant_tags(self.name, self.role)
        for name in sorted(set(current) - set(wanted)):
            # Read again: an earlier definition of the same bulk run may have moved it to another tenant.
            if set(tags) & set((self._instance(name) or {}).get("tags") or []):
                self._set_tags(name, [UNTAGGED[self.role]])
        for name in wanted:
            if sorted((self._instance(name) or {}).get("tags") or []) != sorted(tags):
                self._set_tags(name, tags)

    def _set_tags(self, name, tags):
        params = {"tags": ",".join(tags)}
        if self.role == "BROKER":
            params["updateBrokerResource"] = "true"
        self.client.put("/instances/" + quote(name, safe="") + "/updateTags", params=params)

    def validate_delete(self, live):
        tables = (self.client.get(self.path + "/tables", params={"type": self.role.lower()}) or {}).get("tables")
        if tables:
            raise SpecError("state", f"{self.role.lower()} tenant '{self.name}' still serves tables "
                            f"{', '.join(sorted(tables))}; move or delete them first")

    def delete(self, live):
        self.client.delete(self.path, params={"type": self.role})


def build(client: PinotClient, params: dict[str, Any], check_mode: bool) -> tuple[TenantHandler, dict[str, Any] | None]:
    name, role = params["name"], params["role"]
    instances = params.get("instances")
    explicit = instances is not None
    desired = {"tenantName": name, "tenantRole": role}
    if explicit:
        if len(set(instances)) != len(instances):
            raise SpecError("instances", "lists an instance twice")
        for key in ("instance_count", "offline_instances", "realtime_instances"):
            if params.get(key) is not None:
                raise SpecError(key, "cannot be combined with instances (the count is the list's length)")
        desired["instanceNames"] = sorted(instances)
        desired["numberOfInstances"] = len(instances)
        if role == "SERVER":
            desired["offlineInstances"] = desired["realtimeInstances"] = len(instances)
    else:
        count = params.get("instance_count")
        if count is None:
            count = 1
        if count < 1:
            raise SpecError("instance_count", f"must be at least 1, got {count}")
        desired["numberOfInstances"] = count
        if role == "SERVER":
            for key, body_key in (("offline_instances", "offlineInstances"),
                                  ("realtime_instances", "realtimeInstances")):
                value = params.get(key)
                value = count if value is None else value
                if not 0 <= value <= count:
                    raise SpecError(key, f"must be between 0 and instance_count ({count}), got {value}")
                desired[body_key] = value
        else:
            for key in ("offline_instances", "realtime_instances"):
                if params.get(key) is not None:
                    raise SpecError(key, "applies to SERVER tenants only")
    return TenantHandler(client, name, role, check_mode=check_mode, explicit_instances=explicit), desired


def read_info(client: PinotClient, params: dict[str, Any]) -> dict[str, Any]:
    role = params.get("role")
    if params.get("name"):
        if not role:
            raise SpecError("role", "is required with name")
        return {"tenant": TenantHandler(client, params["name"], role).read()}
    listing = client.get("/tenants", params={"type": role.lower()} if role else None) or {}
    return {"tenants": {"BROKER": sorted(listing.get("BROKER_TENANTS") or []),
                        "SERVER": sorted(listing.get("SERVER_TENANTS") or [])}}
