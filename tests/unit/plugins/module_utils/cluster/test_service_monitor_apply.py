import threading

import pytest
from cluster_fixtures import description

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.live import managed_kinds
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.preflight import preflight
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import normalise_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import ZONE_LABEL
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8sClient


class Client:
    def __init__(self, served):
        self.served = served
        self.asked = []

    def serves(self, kind):
        self.asked.append(kind)
        return self.served

    def get(self, kind, name, namespace=None):
        assert kind == "Namespace"
        return {"metadata": {"name": name}}

    def list(self, kind, namespace=None, selector=None):
        if kind == "Node":
            return [{"metadata": {"name": f"n-{z}", "labels": {ZONE_LABEL: z}}}
                    for z in ("zone-a", "zone-b", "zone-c")]
        return []


def monitored(metrics=None):
    desc = description(secret_env=[])
    desc["pinot"]["controller"]["properties"].pop("controller.admin.access.control.principals.admin.password")
    if metrics is not None:
        desc["profiles"]["hot"]["metrics"] = metrics
    return normalise_cluster(desc)


def test_a_service_monitor_without_its_crd_fails_the_pre_flight_naming_the_group():
    cluster = monitored({"service_monitor": True})
    with pytest.raises(SpecError) as info:
        preflight(Client(False), cluster, cluster["node_groups"])
    assert info.value.field == "cluster.node_groups[3]"
    assert "Nothing was written" in info.value.message
    assert preflight(Client(True), cluster, cluster["node_groups"])


def test_no_discovery_read_without_a_service_monitor_in_the_pre_flight():
    cluster = monitored({})
    client = Client(False)
    preflight(client, cluster, cluster["node_groups"])
    assert client.asked == []


def test_service_monitors_are_listed_only_where_served():
    assert "ServiceMonitor" not in managed_kinds(Client(False))
    assert managed_kinds(Client(True))[0] == "ServiceMonitor"


def test_serves_reads_the_group_versions_discovery_once_per_client(monkeypatch):
    answers = {"/apis/monitoring.coreos.com/v1": (200, {"resources": [{"name": "servicemonitors"}]})}

    def discovering_client():
        client = K8sClient.__new__(K8sClient)
        client.reads = 0
        client._served = {}
        client._lock = threading.Lock()
        client.executed_requests = []
        monkeypatch.setattr(client, "request",
                            lambda verb, kind, name, method, path, **kw: answers.get(path, (404, None)))
        return client

    client = discovering_client()
    assert client.serves("ServiceMonitor")
    assert client.serves("ServiceMonitor") and client.reads == 1  # asked again in the same run: no second read
    answers.clear()
    assert not discovering_client().serves("ServiceMonitor")
