# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinot users: ZooKeeper-stored accounts (read by ZkBasicAuthAccessControlFactory), one per name and component.

Pinot keeps only a bcrypt hash of the password, so whether a password changed is answered by checking the
requested one against that hash; nothing else ever sees either.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import Handler

try:
    import bcrypt

    HAS_BCRYPT = True
except ImportError:
    HAS_BCRYPT = False

# Enums of Pinot's UserConfig (ComponentType, RoleType, AccessType); the controller refuses any other value.
COMPONENTS = ("CONTROLLER", "BROKER", "SERVER", "MINION")
ROLES = ("USER", "ADMIN")
PERMISSIONS = ("CREATE", "READ", "UPDATE", "DELETE")
# How the password shows in the compared form: the hash matches the request, or the request sets a new one.
PASSWORD_KEPT, PASSWORD_NEW = "kept", "new"
NOT_A_USERNAME = re.compile(r"[.\s]")  # the controller refuses '.' and spaces in a username
LISTS = (("tables", "tables"), ("exclude_tables", "excludeTables"), ("permissions", "permissions"))


class UserHandler(Handler):
    kind = "user"

    def __init__(self, client, name, component, *, password=None, update_password="always", check_mode=False):
        super().__init__(client, name, check_mode)
        self.component = component
        self.password = password
        self.update_password = update_password
        self._first_hash = None  # the hash as this run first read it
        self._read_once = False
        self._matches = None  # does the requested password match that hash (bcrypt is slow on purpose: ask once)

    @property
    def identity(self):
        return {"name": self.name, "component": self.component}

    @property
    def path(self):
        return "/users/" + quote(self.name, safe="")

    def read(self):
        found = self.client.get(self.path, params={"component": self.component}) or {}
        user = found.get(f"{self.name}_{self.component}")
        if not self._read_once:
            self._read_once, self._first_hash = True, (user or {}).get("password")
        return user

    def normalise(self, obj):
        """The stored fields, lists sorted and empty ones dropped; the password as kept or new (a stored hash other
        than the first one read was set by this run)."""
        result = {key: obj[key] for key in ("username", "component", "role") if obj.get(key) is not None}
        for _option, key in LISTS:
            if obj.get(key):
                result[key] = sorted(obj[key])
        if "password" in obj:  # a user created by this run keeps the password it was created with
            changed_here = self._first_hash is not None and obj["password"] != self._first_hash
            result["password"] = PASSWORD_NEW if changed_here else PASSWORD_KEPT
        else:
            result["password"] = self._requested_password()
        return result

    def _requested_password(self):
        if self.password is None or self.update_password == "on_create" or self._first_hash is None:
            return PASSWORD_KEPT
        if self._matches is None:
            if not HAS_BCRYPT:
                raise SpecError("update_password", "checking the password against the hash Pinot stores needs "
                                "the Python library bcrypt on the host that runs the module (pip install bcrypt); "
                                "or set update_password=on_create")
            try:
                self._matches = bcrypt.checkpw(self.password.encode("utf-8"), self._first_hash.encode("utf-8"))
            except ValueError:  # not a bcrypt hash: written by something else, so not this password
                self._matches = False
        return PASSWORD_KEPT if self._matches else PASSWORD_NEW

    def validate_with_server(self, desired, live):
        """Pinot has no validate endpoint for users: the request is the stored form, the hash aside."""
        if live is None and self.password is None:
            raise SpecError("user_password", f"is required to create the user '{self.name}' ({self.component})")

    def create(self, desired):
        self.client.post("/users", body=dict(desired, password=self.password))

    def update(self, desired, live):
        new = self.normalise(desired)["password"] == PASSWORD_NEW
        self.client.put(self.path, params={"component": self.component, "passwordChanged": str(new).lower()},
                        body=dict(desired, password=self.password if new else live["password"]))

    def delete(self, live):
        self.client.delete(self.path, params={"component": self.component})


def build(client: PinotClient, params: dict[str, Any], check_mode: bool) -> tuple[UserHandler, dict[str, Any] | None]:
    name, component = params["name"], params["component"]
    if not name or NOT_A_USERNAME.search(name):
        raise SpecError("name", f"'{name}' is not a Pinot username (no '.', no spaces, not empty)")
    if params.get("user_password") == "":
        raise SpecError("user_password", "must not be empty")
    desired = {"username": name, "component": component, "role": params.get("role") or "USER"}
    for option, key in LISTS:
        values = params.get(option) or []
        if len(set(values)) != len(values):
            raise SpecError(option, "lists a value twice")
        if values:
            desired[key] = sorted(values)
    handler = UserHandler(client, name, component, password=params.get("user_password"),
                          update_password=params.get("update_password") or "always", check_mode=check_mode)
    return handler, desired


def _public(user):
    return {key: value for key, value in user.items() if key != "password"}


def read_info(client: PinotClient, params: dict[str, Any]) -> dict[str, Any]:
    """One user (needs its component) or every user; never a password or its hash."""
    if params.get("name"):
        if not params.get("component"):
            raise SpecError("component", "is required with name")
        user = UserHandler(client, params["name"], params["component"]).read()
        return {"user": _public(user) if user else None}
    users = (client.get("/users") or {}).get("users") or {}
    return {"users": [_public(users[key]) for key in sorted(users)]}
