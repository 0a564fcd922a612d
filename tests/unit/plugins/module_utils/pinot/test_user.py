"""pinot_user's handler on a scripted controller that stores bcrypt hashes as Pinot does (no network)."""

import bcrypt
import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import user as user_utils
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import reconcile


class UserStore(PinotClient):
    """GET/POST/PUT/DELETE /users with Pinot's semantics: the hash is stored, PUT replaces the whole user."""

    def __init__(self, users=None):
        super().__init__("http://pinot.invalid")
        self.users = dict(users or {})
        self.bodies = []

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
        if method == "POST":
            key = f"{body['username']}_{body['component']}"
        else:
            key = f"{path.rsplit('/', 1)[1]}_{params['component']}"
        if method == "GET":
            return {key: self.users.get(key)}
        self.executed_requests.append(f"{method} {path}" + "".join(f" {k}={v}" for k, v in (params or {}).items()))
        self.bodies.append(body)
        if method == "DELETE":
            del self.users[key]
        elif method == "POST" or params.get("passwordChanged") == "true":
            self.users[key] = dict(body, password=_hash(body["password"]))
        else:
            self.users[key] = dict(body)
        return None


def _hash(password):
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()


def _run(client, check_mode=False, state="present", **params):
    params = dict({"name": "analyst", "component": "BROKER", "user_password": "s3cret", "update_password": "always",
                   "role": "USER", "tables": None, "exclude_tables": None, "permissions": None}, **params)
    handler, desired = user_utils.build(client, params, check_mode)
    return reconcile(handler, desired, state, check_mode)


def test_create_then_the_same_password_writes_nothing():
    client = UserStore()
    created = _run(client, permissions=["READ"], tables=["events"])
    assert created["changed"] is True
    assert created["warnings"] == []  # the re-read matches the prediction
    assert client.executed_requests == ["POST /users"]
    assert client.bodies[0]["password"] == "s3cret"
    again = _run(client, permissions=["READ"], tables=["events"])
    assert (again["changed"], client.executed_requests) == (False, ["POST /users"])


def test_a_new_password_is_sent_as_changed_and_a_kept_one_as_the_stored_hash():
    stored = {"username": "analyst", "password": _hash("s3cret"), "component": "BROKER", "role": "USER"}
    client = UserStore({"analyst_BROKER": dict(stored)})
    predicted = _run(client, check_mode=True, user_password="other")
    assert (predicted["changed"], predicted["changes"], client.executed_requests) == (True, ["password"], [])
    changed = _run(client, user_password="other")
    assert (changed["changes"], changed["warnings"]) == (["password"], [])
    assert client.executed_requests == ["PUT /users/analyst component=BROKER passwordChanged=true"]
    assert bcrypt.checkpw(b"other", client.users["analyst_BROKER"]["password"].encode())

    new_hash = client.users["analyst_BROKER"]["password"]
    role = _run(client, user_password="other", role="ADMIN")
    assert role["changes"] == ["role"]
    assert client.executed_requests[-1] == "PUT /users/analyst component=BROKER passwordChanged=false"
    assert client.bodies[-1]["password"] == new_hash  # the hash goes back unchanged, never the password


def test_on_create_never_compares_the_password(monkeypatch):
    monkeypatch.setattr(user_utils, "HAS_BCRYPT", False)
    stored = {"username": "ops", "password": _hash("first"), "component": "CONTROLLER", "role": "ADMIN"}
    client = UserStore({"ops_CONTROLLER": stored})
    result = _run(client, name="ops", component="CONTROLLER", role="ADMIN", user_password="second",
                  update_password="on_create")
    assert (result["changed"], client.executed_requests) == (False, [])


def test_without_bcrypt_comparing_a_password_names_update_password(monkeypatch):
    monkeypatch.setattr(user_utils, "HAS_BCRYPT", False)
    client = UserStore({"analyst_BROKER": {"username": "analyst", "password": _hash("s3cret"),
                                           "component": "BROKER", "role": "USER"}})
    with pytest.raises(SpecError) as raised:
        _run(client)
    assert raised.value.field == "update_password"
    assert client.executed_requests == []


@pytest.mark.parametrize(("params", "field"), [
    ({"name": "a.b"}, "name"),
    ({"name": "a b"}, "name"),
    ({"user_password": ""}, "user_password"),
    ({"tables": ["t", "t"]}, "tables"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(SpecError) as raised:
        _run(UserStore(), **params)
    assert raised.value.field == field


def test_creating_without_a_password_is_refused_before_any_write():
    client = UserStore()
    with pytest.raises(SpecError) as raised:
        _run(client, user_password=None)
    assert raised.value.field == "user_password"
    assert client.executed_requests == []
