# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes Events for what pinotops changes (`kubectl get events` / `kubectl describe` show them), in the style
of Kubernetes' own controllers: on the object concerned, an UpperCamelCase reason, a one-line message, source
component `pinotops.k8s`. Recording is best effort, as client-go's recorder: a refused Event never fails a run
that did its work, it becomes one warning."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timezone
from typing import Any

from ansible_collections.pinotops.k8s.plugins.module_utils.facts import FIELD_MANAGER
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8sClient, K8sError

SOURCE = FIELD_MANAGER
MESSAGE_LIMIT = 1024  # what events.k8s.io allows for a note; core Events are shown truncated long before
PATHS_SHOWN = 8


def event_manifest(involved: dict[str, Any], reason: str, message: str, *, event_type: str = "Normal",
                   now: datetime | None = None, instance: str | None = None) -> dict[str, Any]:
    """The core/v1 Event about `involved` (an object as read or stored: kind, apiVersion, metadata)."""
    meta = involved["metadata"]
    host = instance or socket.gethostname()
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    reference = {"apiVersion": involved.get("apiVersion", "v1"), "kind": involved["kind"], "name": meta["name"],
                 "namespace": meta.get("namespace")}
    if meta.get("uid"):
        reference["uid"] = meta["uid"]
    if message and len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT - 3] + "..."
    return {
        "apiVersion": "v1",
        "kind": "Event",
        # client-go's naming: the object's name and a unique suffix, so Events of one object sort together.
        "metadata": {"name": f"{meta['name']}.{time.time_ns():x}", "namespace": meta.get("namespace")},
        "involvedObject": reference,
        "reason": reason,
        "message": message,
        "type": event_type,
        "source": {"component": SOURCE, "host": host},
        "reportingComponent": SOURCE,
        "reportingInstance": host,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def paths_message(verb: str, paths: list[str]) -> str:
    """`Updated by pinotops.k8s: spec.replicas, ...`: the fields, never their values (a value may be a secret)."""
    shown = ", ".join(paths[:PATHS_SHOWN])
    more = f" and {len(paths) - PATHS_SHOWN} more" if len(paths) > PATHS_SHOWN else ""
    return f"{verb} by {SOURCE}" + (f": {shown}{more}" if shown else "")


class EventRecorder:
    """Records Events through the client when enabled; `recorded` is what the module returns as `events`. With
    `dry_run` the Events are built and reported, not sent."""

    def __init__(self, client: K8sClient, enabled: bool = True, instance: str | None = None,
                 dry_run: bool = False) -> None:
        self.client = client
        self.enabled = enabled
        self.instance = instance
        self.dry_run = dry_run
        self.recorded = []
        self.error = None

    @property
    def warnings(self) -> list[str]:
        if self.error is None:
            return []
        return [f"Kubernetes Events not recorded ({self.error}); grant create on events in the namespace or set "
                "events=false"]

    def record(self, involved: dict[str, Any], reason: str, message: str, event_type: str = "Normal") -> None:
        if not self.enabled or self.error:  # after one refusal the rest would be refused too
            return
        event = event_manifest(involved, reason, message, event_type=event_type, instance=self.instance)
        if not self.dry_run:
            try:
                self.client.create_event(event)
            except K8sError as exc:
                self.error = exc
                return
        self.recorded.append({"kind": involved["kind"], "name": involved["metadata"]["name"], "reason": reason,
                              "message": event["message"], "type": event_type})
