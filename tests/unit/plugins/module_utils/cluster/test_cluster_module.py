"""What pinot_cluster returns for the pinot_cluster role to loop over (cluster/module.py): the roles in deployment
order, the node groups of each role, and the Pinot gate target of every pod."""

import types

import pytest
from cluster_fixtures import description

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster import module as glue
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.apply import Outcome
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.options import CLUSTER_OPTIONS
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import normalise_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import instance_id

GROUPS_BY_ROLE = {"controller": ["controller"], "broker": ["broker-a", "broker-b"],
                  "server": ["server-hot-a", "server-hot-b", "server-cold-c"], "minion": ["minion"]}


def status(cluster, *names):
    """pinot_cluster's report of the named groups (read_groups), each pod with the instance it registers under."""
    roles = {g["name"]: g["role"] for g in cluster["node_groups"]}
    replicas = {g["name"]: g["replicas"] for g in cluster["node_groups"]}
    report = {}
    for name in names:
        pods = [f"pinot-{name}-{i}" for i in range(replicas.get(name, 1))]
        role, service = roles.get(name, name), f"pinot-{name}-headless"
        report[name] = {"pods": [{"name": pod, "instance": instance_id(role, pod, service, "analytics")}
                                 for pod in pods]}
    return report


def test_the_roles_come_in_deployment_order_with_their_groups_in_description_order():
    cluster = normalise_cluster(description())
    order, by_role, targets = glue.role_flow(cluster, {}, {})
    assert order == ["controller", "broker", "server", "minion"]
    assert by_role == GROUPS_BY_ROLE
    assert targets == []


def test_the_order_is_the_descriptions_without_the_roles_it_has_no_group_of():
    groups = [g for g in description()["node_groups"] if g["role"] != "minion"]
    cluster = normalise_cluster(description(node_groups=groups,
                                            deployment_order=["controller", "server", "minion", "broker"]))
    order, by_role, _targets = glue.role_flow(cluster, {}, {})
    assert order == ["controller", "server", "broker"]
    assert list(by_role) == order and by_role["server"] == ["server-hot-a", "server-hot-b", "server-cold-c"]


def test_every_pod_of_the_reported_groups_is_gated_on_the_instance_it_registers_under():
    cluster = normalise_cluster(description())
    report = status(cluster, "server-hot-b", "zookeeper", "broker-a", "server-hot-a")
    _order, _by_role, targets = glue.role_flow(cluster, report, {})
    # Deployment order, groups in description order, pods as reported; the ZooKeeper pods have no Pinot gate.
    assert [(t["group"], t["pod"]) for t in targets] == [
        ("broker-a", "pinot-broker-a-0"), ("server-hot-a", "pinot-server-hot-a-0"),
        ("server-hot-a", "pinot-server-hot-a-1"), ("server-hot-b", "pinot-server-hot-b-0"),
        ("server-hot-b", "pinot-server-hot-b-1")]
    assert targets[0] == {
        "group": "broker-a", "role": "broker", "pod": "pinot-broker-a-0", "health_url": None,
        "instance": "Broker_pinot-broker-a-0.pinot-broker-a-headless.analytics.svc.cluster.local_8099"}
    assert {t["role"] for t in targets[1:]} == {"server"}


def test_the_instance_map_names_the_target_by_pod_then_group_then_role():
    cluster = normalise_cluster(description())
    report = status(cluster, "controller", "broker-a", "broker-b", "server-hot-a")
    instance_map = {
        "broker": {"instance": "Broker_real_8099", "health_url": "http://127.0.0.1:8099"},
        "broker-b": {"instance": "Broker_b_8099"},
        "server-hot-a": {"instance": "Server_group_8098"},
        "pinot-server-hot-a-1": {"instance": "Server_pod_8098", "health_url": "http://127.0.0.1:8097"},
    }
    _order, _by_role, targets = glue.role_flow(cluster, report, instance_map)
    got = {t["pod"]: (t["instance"], t["health_url"]) for t in targets}
    assert got == {
        "pinot-controller-0": (instance_id("controller", "pinot-controller-0", "pinot-controller-headless",
                                           "analytics"), None),
        "pinot-broker-a-0": ("Broker_real_8099", "http://127.0.0.1:8099"),
        "pinot-broker-b-0": ("Broker_b_8099", None),
        "pinot-server-hot-a-0": ("Server_group_8098", None),
        "pinot-server-hot-a-1": ("Server_pod_8098", "http://127.0.0.1:8097"),
    }


def test_a_pod_known_as_no_instance_is_refused_naming_the_instance_map():
    cluster = normalise_cluster(description())
    report = {"minion": {"pods": [{"name": "pinot-minion-0", "instance": None}]}}
    with pytest.raises(SpecError, match="no Pinot instance known for pod pinot-minion-0") as caught:
        glue.role_flow(cluster, report, {})
    assert caught.value.field == "instance_map"
    assert glue.role_flow(cluster, report, {"minion": {"instance": "Minion_real_9514"}})[2][0]["instance"] == \
        "Minion_real_9514"


class Module:
    """Enough of AnsibleModule for run_cluster: the parameters in, the result or the failure out."""

    argument_spec = {"cluster": {"options": CLUSTER_OPTIONS}}
    check_mode = False
    _diff = False

    def __init__(self, **params):
        self.params = dict({"state": "present", "node_groups": None, "partitions": None, "prune": True,
                            "delete_pvcs": False, "wait": True, "wait_timeout": 600, "events": False,
                            "instance_map": {}, "cluster": description()}, **params)
        self.result = self.failure = None

    def warn(self, _message):
        pass

    def exit_json(self, **result):
        self.result = result

    def fail_json(self, **details):
        self.failure = details
        raise SystemExit(1)


@pytest.fixture
def applied(monkeypatch):
    """run_cluster on a client that sends nothing: `present` reports the node groups it was asked for."""
    connected = []

    def connect(module):
        connected.append(module)
        return types.SimpleNamespace(executed_requests=[], counts={})

    def present(client, cluster, *, node_groups=None, **_options):
        return Outcome(), status(cluster, *(node_groups or [g["name"] for g in cluster["node_groups"]]))

    monkeypatch.setattr(glue, "connect", connect)
    monkeypatch.setattr(glue, "present", present)
    monkeypatch.setattr(glue, "read_services", lambda client, cluster: {})
    return connected


def test_the_result_carries_the_order_the_groups_of_each_role_and_the_gate_targets(applied):
    module = Module(node_groups=["broker-a", "broker-b"], instance_map={"broker-b": {"instance": "Broker_b_8099"}})
    glue.run_cluster(module)
    assert module.result["order"] == ["controller", "broker", "server", "minion"]
    assert module.result["groups_by_role"] == GROUPS_BY_ROLE
    assert [(t["pod"], t["instance"]) for t in module.result["gate_targets"]] == [
        ("pinot-broker-a-0", "Broker_pinot-broker-a-0.pinot-broker-a-headless.analytics.svc.cluster.local_8099"),
        ("pinot-broker-b-0", "Broker_b_8099")]


@pytest.mark.parametrize("entry", [{"health_url": "http://127.0.0.1:8099"}, {"instance": "B", "port": 1}, "B"])
def test_a_bad_instance_map_is_refused_before_any_request(applied, entry):
    module = Module(instance_map={"broker": entry})
    with pytest.raises(SystemExit):
        glue.run_cluster(module)
    assert module.failure["field"] == "instance_map.broker" and not module.failure["changed"]
    assert applied == []


def test_removing_the_cluster_returns_no_flow(applied, monkeypatch):
    monkeypatch.setattr(glue, "absent", lambda client, name, namespace, **_options: Outcome())
    module = Module(state="absent", instance_map={"broker": "ignored"})
    glue.run_cluster(module)
    assert (module.result["order"], module.result["groups_by_role"], module.result["gate_targets"]) == ([], {}, [])
