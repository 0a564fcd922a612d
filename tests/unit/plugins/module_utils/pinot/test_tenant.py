"""Tenants in one bulk run, on a scripted controller whose instances carry tags (no network)."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import Plan, reconcile_many
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.tenant import build

DEFAULT_SERVER_TAGS = ["DefaultTenant_OFFLINE", "DefaultTenant_REALTIME"]


class TaggedInstances(PinotClient):
    """A controller that knows instances and their tags, and the tenants those tags make."""

    def __init__(self, tags):
        super().__init__("http://pinot.invalid")
        self.tags = {name: list(value) for name, value in tags.items()}

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
        kind, name = path.strip("/").split("/", 1)
        if method == "GET" and kind == "instances":
            return {"instanceName": name, "tags": self.tags[name]} if name in self.tags else None
        if method == "GET" and kind == "tenants":
            servers = sorted(i for i, tags in self.tags.items() if f"{name}_OFFLINE" in tags)
            if not servers:
                return None
            return {"ServerInstances": servers, "OfflineServerInstances": servers,
                    "RealtimeServerInstances": servers}
        assert method == "PUT" and path.endswith("/updateTags"), (method, path)
        self.executed_requests.append(f"PUT {path}?tags={params['tags']}")
        self.tags[name.split("/")[0]] = params["tags"].split(",")
        return None


def _plans(client, *definitions):
    plans = []
    for definition in definitions:
        params = dict({"instance_count": None, "offline_instances": None, "realtime_instances": None,
                       "instances": None, "state": "present"}, **definition)
        handler, desired = build(client, params, False)
        plans.append(Plan(handler, desired, params["state"]))
    return plans


def test_an_instance_moved_by_an_earlier_tenant_is_not_untagged_by_a_later_one():
    client = TaggedInstances({"Server_a_8098": DEFAULT_SERVER_TAGS, "Server_b_8098": DEFAULT_SERVER_TAGS})
    hot = {"name": "hot", "role": "SERVER", "instances": ["Server_b_8098"]}
    default = {"name": "DefaultTenant", "role": "SERVER", "instances": ["Server_a_8098"]}
    results = reconcile_many(_plans(client, hot, default), check_mode=False)
    assert client.executed_requests == ["PUT /instances/Server_b_8098/updateTags?tags=hot_OFFLINE,hot_REALTIME"]
    assert client.tags["Server_b_8098"] == ["hot_OFFLINE", "hot_REALTIME"]
    assert [(r["name"], r["changed"]) for r in results] == [("hot", True), ("DefaultTenant", True)]
    assert reconcile_many(_plans(client, hot, default), check_mode=False)[1]["changed"] is False


def test_an_instance_no_longer_named_goes_back_to_the_pool():
    client = TaggedInstances({"Server_a_8098": DEFAULT_SERVER_TAGS, "Server_b_8098": DEFAULT_SERVER_TAGS})
    reconcile_many(_plans(client, {"name": "DefaultTenant", "role": "SERVER", "instances": ["Server_a_8098"]}),
                   check_mode=False)
    assert client.executed_requests == ["PUT /instances/Server_b_8098/updateTags?tags=server_untagged"]


@pytest.mark.parametrize(("definitions", "message"), [
    ([{"name": "hot", "role": "SERVER", "instances": ["Server_a_8098"]},
      {"name": "warm", "role": "SERVER", "instances": ["Server_a_8098"]}],
     "instance 'Server_a_8098' is named by hot SERVER and warm SERVER"),
    ([{"name": "hot", "role": "SERVER", "instance_count": 1},
      {"name": "hot", "role": "SERVER", "instance_count": 2}],
     "names hot SERVER more than once"),
])
def test_contradicting_definitions_are_refused_before_any_read(definitions, message):
    client = TaggedInstances({})
    with pytest.raises(SpecError) as raised:
        reconcile_many(_plans(client, *definitions), check_mode=False)
    assert raised.value.field == "definitions"
    assert message in raised.value.message
    assert client.executed_requests == []


def test_a_broker_and_a_server_tenant_may_share_a_name():
    plans = _plans(TaggedInstances({}), {"name": "DefaultTenant", "role": "SERVER", "instance_count": 1},
                   {"name": "DefaultTenant", "role": "BROKER", "instance_count": 1})
    plans[0].handler.validate_together(plans)
    assert [plan.handler.identity for plan in plans] == [{"name": "DefaultTenant", "role": "SERVER"},
                                                         {"name": "DefaultTenant", "role": "BROKER"}]
