from datetime import UTC, datetime

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.prune import delete_all
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8sError
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.events import (
    EventRecorder,
    event_manifest,
    paths_message,
)

STS = {"apiVersion": "apps/v1", "kind": "StatefulSet",
       "metadata": {"name": "pinot-server-hot-a", "namespace": "analytics", "uid": "u-1"}}


class EventClient:
    """Records Events and deletions; refuses Events from the `refuse`-th on, as an apiserver without RBAC does."""

    def __init__(self, refuse=None):
        self.events, self.deleted, self.refuse = [], [], refuse

    def create_event(self, event):
        if self.refuse is not None and len(self.events) >= self.refuse:
            raise K8sError("create", "Event", event["metadata"]["name"], 403, "events is forbidden")
        self.events.append(event)

    def delete(self, kind, name, namespace=None, dry_run=False):
        self.deleted.append((kind, name, dry_run))


def test_an_event_names_its_object_and_source_like_kubernetes_controllers_do():
    now = datetime(2026, 12, 3, 10, 0, 0, tzinfo=UTC)
    event = event_manifest(STS, "Updated", "Updated by pinotops.k8s: spec.replicas", now=now, instance="awx-1")
    assert event["metadata"]["name"].startswith("pinot-server-hot-a.")
    assert event["metadata"]["namespace"] == "analytics"
    assert event["involvedObject"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "pinot-server-hot-a",
                                       "namespace": "analytics", "uid": "u-1"}
    assert event["source"] == {"component": "pinotops.k8s", "host": "awx-1"}
    assert (event["reportingComponent"], event["reportingInstance"]) == ("pinotops.k8s", "awx-1")
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-12-03T10:00:00Z"
    assert (event["type"], event["count"]) == ("Normal", 1)
    # Two Events about one object never share a name.
    assert event_manifest(STS, "Updated", "x")["metadata"]["name"] != event["metadata"]["name"]


def test_a_long_message_is_cut_to_what_kubernetes_keeps():
    message = event_manifest(STS, "Updated", "x" * 5000)["message"]
    assert len(message) == 1024 and message.endswith("...")


def test_a_message_names_the_changed_fields_and_counts_the_rest():
    assert paths_message("Created", []) == "Created by pinotops.k8s"
    paths = [f"data.k{i}" for i in range(10)]
    assert paths_message("Updated", paths) == (
        "Updated by pinotops.k8s: data.k0, data.k1, data.k2, data.k3, data.k4, data.k5, data.k6, data.k7 "
        "and 2 more")


def test_a_refused_event_is_one_warning_and_recording_stops():
    client = EventClient(refuse=1)
    recorder = EventRecorder(client)
    for reason in ("Created", "Updated", "Deleted"):
        recorder.record(STS, reason, f"{reason} by pinotops.k8s")
    assert [e["reason"] for e in client.events] == ["Created"]
    assert [e["reason"] for e in recorder.recorded] == ["Created"]
    assert len(recorder.warnings) == 1
    assert "events is forbidden" in recorder.warnings[0] and "events=false" in recorder.warnings[0]


def test_a_disabled_recorder_sends_nothing_and_a_dry_run_reports_without_sending():
    client = EventClient()
    EventRecorder(client, enabled=False).record(STS, "Created", "x")
    dry = EventRecorder(client, dry_run=True)
    dry.record(STS, "UpgradeStopped", "gate", "Warning")
    assert client.events == []
    assert dry.recorded == [{"kind": "StatefulSet", "name": "pinot-server-hot-a", "reason": "UpgradeStopped",
                             "message": "gate", "type": "Warning"}]
    assert dry.warnings == []


def test_deletions_are_recorded_and_a_dry_run_records_none():
    client = EventClient()
    cm = {"kind": "ConfigMap", "metadata": {"name": "pinot-broker-a-config-1", "namespace": "analytics"}}
    delete_all(client, [cm], "analytics", EventRecorder(client), dry_run=True)
    assert client.deleted == [("ConfigMap", "pinot-broker-a-config-1", True)] and client.events == []
    delete_all(client, [cm], "analytics", EventRecorder(client))
    assert client.deleted[-1] == ("ConfigMap", "pinot-broker-a-config-1", False)
    assert [(e["reason"], e["involvedObject"]["name"]) for e in client.events] == [
        ("Deleted", "pinot-broker-a-config-1")]
