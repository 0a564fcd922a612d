"""pinot_user and pinot_user_info against the real Pinot controller of each tested version."""

import secrets

import pytest
import requests

from tests.support.modules import run_module

pytestmark = pytest.mark.integration


@pytest.fixture
def username(pinot):
    """A fresh username; the user is removed from every component afterwards."""
    name = "user" + secrets.token_hex(3)
    yield name
    for component in ("BROKER", "CONTROLLER"):
        requests.delete(f"{pinot.controller_url}/users/{name}", params={"component": component}, timeout=10)


def user_module(pinot, check=False, **args):
    return run_module("pinot_user", dict(controller_url=pinot.controller_url, **args), check=check, diff=True)


def stored(pinot, name, component="BROKER"):
    found = requests.get(f"{pinot.controller_url}/users/{name}", params={"component": component}, timeout=10)
    found.raise_for_status()
    return found.json()[f"{name}_{component}"]


def secrets_absent(result, *values):
    text = repr(result)
    return all(value not in text for value in values)


@pytest.mark.every_version
def test_user_lifecycle_compares_the_password_with_the_stored_hash(pinot, username):
    first, second = secrets.token_hex(8), secrets.token_hex(8)
    user = dict(name=username, component="BROKER", user_password=first, tables=["events"], permissions=["READ"])
    predicted = user_module(pinot, check=True, **user)
    assert (predicted["changed"], predicted["executed_requests"]) == (True, [])
    assert stored(pinot, username) is None

    created = user_module(pinot, **user)
    assert created["executed_requests"] == ["POST /users"]
    assert not created.get("warnings"), created["warnings"]
    live = stored(pinot, username)
    assert live["password"].startswith("$2") and live["permissions"] == ["READ"] and live["tables"] == ["events"]
    assert created["user"]["password"] == "********"
    again = user_module(pinot, **user)
    assert (again["changed"], again["executed_requests"]) == (False, [])

    changed = user_module(pinot, **{**user, "user_password": second})
    assert changed["changes"] == ["password"]
    assert changed["executed_requests"] == [f"PUT /users/{username}?component=BROKER&passwordChanged=true"]
    assert stored(pinot, username)["password"] != live["password"]
    assert user_module(pinot, **{**user, "user_password": second})["changed"] is False

    # Other fields: the hash goes back unchanged (passwordChanged=false), the left-out tables are cleared.
    hash_now = stored(pinot, username)["password"]
    widened = user_module(pinot, name=username, component="BROKER", user_password=second,
                          permissions=["READ", "CREATE"])
    assert sorted(widened["changes"]) == ["permissions", "tables (removed)"], widened["changes"]
    assert widened["executed_requests"] == [f"PUT /users/{username}?component=BROKER&passwordChanged=false"]
    now = stored(pinot, username)
    assert now["password"] == hash_now and sorted(now["permissions"]) == ["CREATE", "READ"] and not now.get("tables")
    assert secrets_absent(widened, first, second, live["password"], hash_now)

    info = run_module("pinot_user_info", {"controller_url": pinot.controller_url, "name": username,
                                          "component": "BROKER"})
    # As Pinot returns the user (1.4.0 adds usernameWithComponent), without the hash.
    assert info["user"].items() >= {"username": username, "component": "BROKER", "role": "USER",
                                    "permissions": ["CREATE", "READ"]}.items()
    assert "password" not in info["user"] and "tables" not in info["user"]
    listing = run_module("pinot_user_info", {"controller_url": pinot.controller_url})
    assert username in [item["username"] for item in listing["users"]]
    assert all("password" not in item for item in listing["users"])

    removed = user_module(pinot, name=username, component="BROKER", state="absent")
    assert removed["executed_requests"] == [f"DELETE /users/{username}?component=BROKER"]
    assert stored(pinot, username) is None
    gone = user_module(pinot, name=username, component="BROKER", state="absent")
    assert (gone["changed"], gone["executed_requests"]) == (False, [])


def test_same_name_for_two_components_and_on_create(pinot, username):
    broker = user_module(pinot, name=username, component="BROKER", user_password="a-" + secrets.token_hex(4))
    controller = user_module(pinot, name=username, component="CONTROLLER", role="ADMIN",
                             user_password="b-" + secrets.token_hex(4), update_password="on_create")
    assert broker["changed"] and controller["changed"]
    assert stored(pinot, username, "CONTROLLER")["role"] == "ADMIN"
    kept = user_module(pinot, name=username, component="CONTROLLER", role="ADMIN", user_password="other",
                       update_password="on_create")
    assert (kept["changed"], kept["executed_requests"]) == (False, [])


@pytest.mark.parametrize(("args", "field"), [
    ({"name": "a.b", "user_password": "x"}, "name"),
    ({"name": "nopassword"}, "user_password"),
    ({"name": "dup", "user_password": "x", "tables": ["t", "t"]}, "tables"),
])
def test_bad_input_names_the_field_and_writes_nothing(pinot, args, field):
    result = user_module(pinot, component="BROKER", **args)
    assert result["failed"] is True
    assert result["field"] == field, result["msg"]
    assert result["executed_requests"] == []
