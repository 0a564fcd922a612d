"""The Kubernetes test bed behaves like a real cluster where upgrade tests need it to.

Every assertion reads real objects from the real apiserver: StatefulSet
rollouts are done by the real controller-manager, placement by the real
scheduler, pods are only brought to Running/Ready by kwok.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.support.polling import wait_until
from tests.testbed.k8s import ANN_HOLD_READY, ANN_READY_DELAY, STORAGE_CLASS, ZONES, K8sControlPlane

pytestmark = pytest.mark.integration

ZONE_LABEL = "topology.kubernetes.io/zone"
REVISION_LABEL = "controller-revision-hash"


def is_ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


@pytest.fixture(scope="module")
def api(k8s_control_plane: K8sControlPlane) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(k8s_control_plane.kubeconfig))


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def ns(core: client.CoreV1Api, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"{request.node.name[5:30].replace('_', '-').strip('-')}-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # Pods can't be admitted before the controller-manager creates the namespace's default SA.
    wait_until(
        "default service account",
        lambda: core.list_namespaced_service_account(name, field_selector="metadata.name=default").items,
    )
    yield name
    core.delete_namespace(name)


def statefulset(
    name: str,
    replicas: int = 3,
    image: str = "registry.test/web:1",
    *,
    volume: bool = False,
    spread: bool = False,
    partition: int | None = None,
    pod_annotations: dict[str, str] | None = None,
) -> client.V1StatefulSet:
    labels = {"app": name}
    spec = client.V1PodSpec(
        containers=[client.V1Container(name="app", image=image)],
        termination_grace_period_seconds=5,
    )
    if spread:
        spec.topology_spread_constraints = [
            client.V1TopologySpreadConstraint(
                max_skew=1,
                topology_key=ZONE_LABEL,
                when_unsatisfiable="DoNotSchedule",
                label_selector=client.V1LabelSelector(match_labels=labels),
            )
        ]
    claims = None
    if volume:
        spec.containers[0].volume_mounts = [client.V1VolumeMount(name="data", mount_path="/data")]
        # No storageClassName: the default class must be picked by admission.
        claims = [
            client.V1PersistentVolumeClaim(
                metadata=client.V1ObjectMeta(name="data"),
                spec=client.V1PersistentVolumeClaimSpec(
                    access_modes=["ReadWriteOnce"],
                    resources=client.V1VolumeResourceRequirements(requests={"storage": "10Gi"}),
                ),
            )
        ]
    strategy = client.V1StatefulSetUpdateStrategy(
        type="RollingUpdate", rolling_update=client.V1RollingUpdateStatefulSetStrategy(partition=partition or 0)
    )
    return client.V1StatefulSet(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1StatefulSetSpec(
            replicas=replicas,
            service_name=name,
            selector=client.V1LabelSelector(match_labels=labels),
            update_strategy=strategy,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels, annotations=pod_annotations), spec=spec
            ),
            volume_claim_templates=claims,
        ),
    )


def create_ready_statefulset(
    core: client.CoreV1Api, apps: client.AppsV1Api, ns: str, sts: client.V1StatefulSet
) -> client.V1StatefulSet:
    name = sts.metadata.name
    core.create_namespaced_service(
        ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1ServiceSpec(cluster_ip="None", selector={"app": name}, ports=[client.V1ServicePort(port=80)]),
        ),
    )
    apps.create_namespaced_stateful_set(ns, sts)
    return wait_until(f"{name} ready", lambda: rolled_out(apps, ns, name, sts.spec.replicas), timeout=90)


def rolled_out(apps: client.AppsV1Api, ns: str, name: str, replicas: int) -> client.V1StatefulSet | None:
    sts = apps.read_namespaced_stateful_set(name, ns)
    st = sts.status
    done = (
        st.observed_generation == sts.metadata.generation
        and st.ready_replicas == replicas
        and st.updated_replicas == replicas
        and st.current_revision == st.update_revision
    )
    return sts if done else None


def pods_by_name(core: client.CoreV1Api, ns: str, app: str) -> dict[str, client.V1Pod]:
    return {p.metadata.name: p for p in core.list_namespaced_pod(ns, label_selector=f"app={app}").items}


def set_image(apps: client.AppsV1Api, ns: str, name: str, image: str) -> None:
    apps.patch_namespaced_stateful_set(
        name, ns, {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    )


def test_statefulset_spreads_over_zones_with_bound_volumes(
    core: client.CoreV1Api, apps: client.AppsV1Api, ns: str
) -> None:
    create_ready_statefulset(core, apps, ns, statefulset("web", volume=True, spread=True))

    pods = pods_by_name(core, ns, "web")
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    assert all(is_ready(p) and p.status.phase == "Running" for p in pods.values())
    zones = []
    for pod in pods.values():
        node = core.read_node(pod.spec.node_name)
        zones.append(node.metadata.labels[ZONE_LABEL])
        # The volume was provisioned for (and pinned to) the node the pod runs on.
        pvc = core.read_namespaced_persistent_volume_claim(f"data-{pod.metadata.name}", ns)
        assert pvc.status.phase == "Bound"
        assert pvc.spec.storage_class_name == STORAGE_CLASS
        pv = core.read_persistent_volume(pvc.spec.volume_name)
        assert pv.status.phase == "Bound"
        assert pv.spec.claim_ref.uid == pvc.metadata.uid
        term = pv.spec.node_affinity.required.node_selector_terms[0].match_expressions[0]
        assert term.values == [pod.spec.node_name]
    assert sorted(zones) == sorted(ZONES)


def test_rolling_update_replaces_pods_one_at_a_time_in_reverse_ordinal_order(
    core: client.CoreV1Api, apps: client.AppsV1Api, ns: str
) -> None:
    create_ready_statefulset(core, apps, ns, statefulset("web"))
    initial = core.list_namespaced_pod(ns, label_selector="app=web")
    old_revision = {p.metadata.labels[REVISION_LABEL] for p in initial.items}
    assert len(old_revision) == 1

    set_image(apps, ns, "web", "registry.test/web:2")

    def new_update_revision() -> str | None:
        revision = apps.read_namespaced_stateful_set("web", ns).status.update_revision
        return revision if revision and revision not in old_revision else None

    new_revision = wait_until("new update revision", new_update_revision)

    # Follow every pod change from the moment before the update.
    state = {p.metadata.name: p for p in initial.items}
    order: list[str] = []
    min_ready = len(state)
    w = watch.Watch()
    for event in w.stream(
        core.list_namespaced_pod,
        ns,
        label_selector="app=web",
        resource_version=initial.metadata.resource_version,
        timeout_seconds=90,
    ):
        pod = event["object"]
        name = pod.metadata.name
        if event["type"] == "DELETED":
            state.pop(name, None)
        else:
            state[name] = pod
            if pod.metadata.labels.get(REVISION_LABEL) == new_revision and name not in order:
                order.append(name)
        min_ready = min(min_ready, sum(is_ready(p) for p in state.values()))
        if len(state) == 3 and all(
            is_ready(p) and p.metadata.labels.get(REVISION_LABEL) == new_revision for p in state.values()
        ):
            w.stop()

    assert order == ["web-2", "web-1", "web-0"]
    # One pod at a time: never more than one of the three was down.
    assert min_ready == 2
    sts = wait_until("rollout complete", lambda: rolled_out(apps, ns, "web", 3))
    assert sts.status.current_revision == new_revision
    images = {p.spec.containers[0].image for p in pods_by_name(core, ns, "web").values()}
    assert images == {"registry.test/web:2"}


def test_partition_holds_pods_below_it_on_the_old_revision(
    core: client.CoreV1Api, apps: client.AppsV1Api, ns: str
) -> None:
    create_ready_statefulset(core, apps, ns, statefulset("web", replicas=4, partition=2))
    old_revision = apps.read_namespaced_stateful_set("web", ns).status.current_revision

    set_image(apps, ns, "web", "registry.test/web:2")

    def partially_updated() -> client.V1StatefulSet | None:
        sts = apps.read_namespaced_stateful_set("web", ns)
        ok = sts.status.updated_replicas == 2 and sts.status.ready_replicas == 4
        return sts if ok else None

    sts = wait_until("web-2 and web-3 updated", partially_updated)
    new_revision = sts.status.update_revision
    assert new_revision != old_revision
    time.sleep(3)  # give the controller every chance to go further than it should
    pods = pods_by_name(core, ns, "web")
    revisions = {n: p.metadata.labels[REVISION_LABEL] for n, p in pods.items()}
    assert revisions == {"web-0": old_revision, "web-1": old_revision, "web-2": new_revision, "web-3": new_revision}
    assert pods["web-1"].spec.containers[0].image == "registry.test/web:1"
    assert apps.read_namespaced_stateful_set("web", ns).status.current_revision == old_revision

    apps.patch_namespaced_stateful_set("web", ns, {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})
    sts = wait_until("rollout past the partition", lambda: rolled_out(apps, ns, "web", 4))
    assert sts.status.current_revision == new_revision


def test_server_side_apply_conflict_between_field_managers(core: client.CoreV1Api, ns: str) -> None:
    def apply(manager: str, value: str, force: bool = False) -> client.V1ConfigMap:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shared", "namespace": ns},
            "data": {"replicas": value},
        }
        return core.patch_namespaced_config_map(
            "shared", ns, body, field_manager=manager, force=force, _content_type="application/apply-patch+yaml"
        )

    apply("pinotops-a", "3")
    with pytest.raises(ApiException) as conflict:
        apply("pinotops-b", "5")
    assert conflict.value.status == 409
    assert "conflict" in conflict.value.body.lower() and "pinotops-a" in conflict.value.body
    assert core.read_namespaced_config_map("shared", ns).data == {"replicas": "3"}

    cm = apply("pinotops-b", "5", force=True)
    assert cm.data == {"replicas": "5"}
    owners = {m.manager for m in cm.metadata.managed_fields if "f:data" in (m.fields_v1 or {})}
    assert owners == {"pinotops-b"}


def ready_pod(core: client.CoreV1Api, ns: str, name: str) -> client.V1Pod | None:
    pod = core.read_namespaced_pod(name, ns)
    return pod if is_ready(pod) else None


def bare_pod(name: str, annotations: dict[str, str] | None = None) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, annotations=annotations),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="registry.test/app:1")]),
    )


def test_ready_delay_and_hold_ready_annotations(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, bare_pod("plain"))
    core.create_namespaced_pod(ns, bare_pod("delayed", {ANN_READY_DELAY: "4s"}))
    core.create_namespaced_pod(ns, bare_pod("held", {ANN_HOLD_READY: "true"}))

    def running(name: str) -> client.V1Pod | None:
        pod = core.read_namespaced_pod(name, ns)
        return pod if pod.status.phase == "Running" else None

    wait_until("plain pod Ready", lambda: is_ready(core.read_namespaced_pod("plain", ns)), timeout=30)
    delayed = wait_until("delayed pod Running", lambda: running("delayed"), timeout=30)
    seen_running = time.monotonic()
    assert not is_ready(delayed)
    ready = wait_until("delayed pod Ready", lambda: ready_pod(core, ns, "delayed"), timeout=30)
    assert time.monotonic() - seen_running >= 3.5
    # Server timestamps (whole seconds): Ready no earlier than 4s after the start.
    ready_at = next(c.last_transition_time for c in ready.status.conditions if c.type == "Ready")
    assert (ready_at - ready.status.start_time).total_seconds() >= 4

    held = wait_until("held pod Running", lambda: running("held"), timeout=30)
    time.sleep(5)
    held = core.read_namespaced_pod("held", ns)
    assert held.status.phase == "Running" and not is_ready(held)
    assert all(cs.state.running and not cs.ready for cs in held.status.container_statuses)

    # Releasing the hold lets the pod become Ready.
    core.patch_namespaced_pod("held", ns, {"metadata": {"annotations": {ANN_HOLD_READY: None}}})
    wait_until("released pod Ready", lambda: is_ready(core.read_namespaced_pod("held", ns)), timeout=30)


def test_held_pod_stops_a_statefulset_rollout(core: client.CoreV1Api, apps: client.AppsV1Api, ns: str) -> None:
    create_ready_statefulset(core, apps, ns, statefulset("web"))
    old_revision = apps.read_namespaced_stateful_set("web", ns).status.current_revision
    apps.patch_namespaced_stateful_set(
        "web",
        ns,
        {
            "spec": {
                "template": {
                    "metadata": {"annotations": {ANN_HOLD_READY: "true"}},
                    "spec": {"containers": [{"name": "app", "image": "registry.test/web:2"}]},
                }
            }
        },
    )

    def web2_replaced() -> client.V1Pod | None:
        pod = pods_by_name(core, ns, "web").get("web-2")
        return (
            pod
            if pod and pod.metadata.labels[REVISION_LABEL] != old_revision and pod.status.phase == "Running"
            else None
        )

    wait_until("web-2 recreated on the new revision", web2_replaced)
    time.sleep(5)
    pods = pods_by_name(core, ns, "web")
    assert not is_ready(pods["web-2"])
    assert pods["web-1"].metadata.labels[REVISION_LABEL] == old_revision
    assert pods["web-0"].metadata.labels[REVISION_LABEL] == old_revision
    assert apps.read_namespaced_stateful_set("web", ns).status.ready_replicas == 2
