import copy

from cluster_fixtures import description

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import render_cluster, version_of
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import normalise_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import LABEL_GROUP, LABEL_VERSION, ZONE_LABEL


def manifests(desc=None, **kwargs):
    cluster = normalise_cluster(desc or description())
    return [m for _stage, items in render_cluster(cluster, **kwargs) for m in items]


def by_ref(items):
    """Objects by kind/name; a group's ConfigMap under `<sts>-config` without the content suffix (which
    test_a_config_is_named_after_its_content checks)."""
    return {f"{m['kind']}/{_unsuffixed(m)}": m for m in items}


def _unsuffixed(manifest):
    name = manifest["metadata"]["name"]
    return name.rsplit("-", 1)[0] if manifest["kind"] == "ConfigMap" else name


def container(sts):
    return sts["spec"]["template"]["spec"]["containers"][0]


def env(sts):
    return {e["name"]: e for e in container(sts)["env"]}


def test_objects_per_group_and_role_in_deployment_order():
    cluster = normalise_cluster(description())
    stages = render_cluster(cluster)
    assert [stage for stage, _objects in stages] == ["controller", "broker", "server", "minion"]
    refs = by_ref(manifests())
    for group in ("controller", "broker-a", "broker-b", "server-hot-a", "server-hot-b", "server-cold-c", "minion"):
        for ref in (f"StatefulSet/pinot-{group}", f"ConfigMap/pinot-{group}-config",
                    f"Service/pinot-{group}-headless", f"PodDisruptionBudget/pinot-{group}"):
            assert ref in refs
    for role in ("controller", "broker", "server", "minion"):
        assert f"Service/pinot-{role}" in refs
    assert len(refs) == 7 * 4 + 4
    # inside a stage: ConfigMaps and Services before the StatefulSets
    kinds = [m["kind"] for m in stages[2][1]]
    assert kinds.index("StatefulSet") > max(i for i, k in enumerate(kinds) if k != "StatefulSet")


def test_statefulset_shape():
    refs = by_ref(manifests())
    sts = refs["StatefulSet/pinot-server-hot-a"]
    spec = sts["spec"]
    assert spec["replicas"] == 2
    assert spec["serviceName"] == "pinot-server-hot-a-headless"
    assert spec["podManagementPolicy"] == "OrderedReady"
    # Always an explicit partition: without one the StatefulSet controller may bring a pod back on the old revision.
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    selector = spec["selector"]["matchLabels"]
    assert selector == {"app.kubernetes.io/name": "pinot", "app.kubernetes.io/instance": "pinot",
                        "app.kubernetes.io/component": "server", LABEL_GROUP: "server-hot-a"}
    assert LABEL_VERSION not in selector  # never a mutable label in a selector
    labels = spec["template"]["metadata"]["labels"]
    assert labels[LABEL_VERSION] == "1.4.0"
    assert labels["app.kubernetes.io/managed-by"] == "pinotops.k8s"
    assert labels["app.kubernetes.io/part-of"] == "pinot"
    assert all(labels[k] == v for k, v in selector.items())
    assert spec["template"]["metadata"]["annotations"]["team"] == "olap"
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    c = container(sts)
    assert c["args"] == ["StartServer", "-clusterName", "pinot", "-zkAddress", "zk.example:2181/pinot",
                         "-configFileName", "/var/pinot/server/config/pinot-server.conf"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/health/readiness", "port": 8097, "scheme": "HTTP"}
    assert c["livenessProbe"]["httpGet"]["path"] == "/health/liveness"
    assert c["startupProbe"]["httpGet"] == {"path": "/health/liveness", "port": 8097, "scheme": "HTTP"}
    # Every port a server registers in Helix is declared, the multi-stage ones pinned (Pinot's default is random).
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"netty": 8098, "admin": 8097, "grpc": 8090,
                                                                   "query": 8421, "mailbox": 8442}
    conf = refs["ConfigMap/pinot-server-hot-a-config"]["data"]["pinot-server.conf"]
    for line in ("pinot.server.grpc.port=8090", "pinot.query.server.port=8421", "pinot.query.runner.port=8442"):
        assert line in conf.splitlines()
    headless = refs["Service/pinot-server-hot-a-headless"]
    assert {p["name"] for p in headless["spec"]["ports"]} == {"netty", "admin", "grpc", "query", "mailbox"}
    # The client Service serves clients only: no multi-stage worker ports.
    assert {p["name"] for p in refs["Service/pinot-server"]["spec"]["ports"]} == {"netty", "admin", "grpc"}
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 630
    assert sts["metadata"]["annotations"] == {"pinotops.io/pinot-instance-tags": "hot_OFFLINE,hot_REALTIME",
                                              "pinotops.io/pinot-instance-pool": "0"}
    # no storage in the profile: emptyDir
    minion = refs["StatefulSet/pinot-minion"]
    assert "volumeClaimTemplates" not in minion["spec"]
    assert {"name": "data", "emptyDir": {}} in minion["spec"]["template"]["spec"]["volumes"]


def test_role_commands_and_probes():
    refs = by_ref(manifests())
    controller = container(refs["StatefulSet/pinot-controller"])
    assert controller["args"] == ["StartController", "-configFileName",
                                  "/var/pinot/controller/config/pinot-controller.conf"]
    assert controller["readinessProbe"]["httpGet"]["port"] == 9000
    broker = container(refs["StatefulSet/pinot-broker-a"])
    assert broker["args"][:5] == ["StartBroker", "-clusterName", "pinot", "-zkAddress", "zk.example:2181/pinot"]
    assert broker["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8099, "scheme": "HTTP"}
    minion = container(refs["StatefulSet/pinot-minion"])
    assert minion["livenessProbe"]["httpGet"] == {"path": "/health", "port": 9514, "scheme": "HTTP"}


def test_conf_rendering_managed_keys_and_tags():
    refs = by_ref(manifests())
    conf = refs["ConfigMap/pinot-controller-config"]["data"]["pinot-controller.conf"]
    lines = conf.splitlines()
    assert "controller.zk.str=zk.example:2181/pinot" in lines
    assert "controller.helix.cluster.name=pinot" in lines
    assert "controller.port=9000" in lines
    assert "pinot.set.instance.id.to.hostname=true" in lines
    assert "controller.task.scheduler.enabled=true" in lines
    # the credential is a reference, its value comes from the Secret through the environment
    assert "controller.admin.access.control.principals.admin.password=${env:PINOT_ADMIN_PASSWORD}" in lines
    sts_env = env(refs["StatefulSet/pinot-controller"])
    assert sts_env["PINOT_ADMIN_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "pinot-auth", "key": "password"}}
    # pinotops' DNS cache defaults first, so that the description's own -D settings win.
    assert sts_env["JAVA_OPTS"]["value"].startswith(
        "-Dsun.net.inetaddr.ttl=0 -Dsun.net.inetaddr.negative.ttl=0 -Xms256m -Xmx1g -Dlog4j2.configurationFile=")
    broker_conf = refs["ConfigMap/pinot-broker-a-config"]["data"]["pinot-broker.conf"]
    assert "pinot.broker.instance.tags=DefaultTenant_BROKER" in broker_conf.splitlines()
    assert "pinot.broker.instance.tags" not in refs["ConfigMap/pinot-broker-b-config"]["data"]["pinot-broker.conf"]
    assert "PINOT_ADMIN_PASSWORD" not in env(refs["StatefulSet/pinot-broker-a"])


def test_java_opts_follow_the_secrets_they_refer_to():
    names = [e["name"] for e in container(by_ref(manifests())["StatefulSet/pinot-controller"])["env"]]
    assert names[0] == "JAVA_OPTS"  # no reference: first, as before (existing pods do not roll)
    desc = description()
    desc["pinot"]["controller"]["jvm_opts"] = "-Djavax.net.ssl.keyStorePassword=$(PINOT_ADMIN_PASSWORD)"
    names = [e["name"] for e in container(by_ref(manifests(desc))["StatefulSet/pinot-controller"])["env"]]
    assert names.index("PINOT_ADMIN_PASSWORD") < names.index("JAVA_OPTS") == len(names) - 1


def test_zone_placement():
    refs = by_ref(manifests())
    pod = refs["StatefulSet/pinot-broker-a"]["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": ZONE_LABEL, "operator": "In", "values": ["zone-a"]}]}]
    assert "topologySpreadConstraints" not in pod  # one zone: nothing to spread over
    controller = refs["StatefulSet/pinot-controller"]["spec"]["template"]["spec"]
    spread = controller["topologySpreadConstraints"]
    assert spread == [{"maxSkew": 1, "topologyKey": ZONE_LABEL, "whenUnsatisfiable": "DoNotSchedule",
                       "labelSelector": {"matchLabels": refs["StatefulSet/pinot-controller"]["spec"]["selector"][
                           "matchLabels"]}}]
    minion = refs["StatefulSet/pinot-minion"]["spec"]["template"]["spec"]
    assert "affinity" not in minion


def test_zone_requirement_is_added_to_every_user_term():
    desc = description()
    desc["profiles"]["small"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]},
                              {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["nvme"]}]}]}}}
    refs = by_ref(manifests(desc))
    terms = refs["StatefulSet/pinot-controller"]["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert len(terms) == 2
    for term in terms:
        assert term["matchExpressions"][-1] == {"key": ZONE_LABEL, "operator": "In", "values": ["zone-a", "zone-b"]}


def test_config_change_rolls_only_its_group():
    before = by_ref(manifests())
    desc = description()
    desc["node_groups"][3]["pinot"] = {"properties": {"pinot.server.query.executor.timeout": 1}}
    after = by_ref(manifests(desc))
    changed = [ref for ref in before if before[ref] != after[ref]]
    assert sorted(changed) == ["ConfigMap/pinot-server-hot-a-config", "StatefulSet/pinot-server-hot-a"]


def test_a_config_is_named_after_its_content_and_mounted_under_that_name():
    def config_and_volume(desc):
        [config] = [m for m in manifests(desc) if m["metadata"]["name"].startswith("pinot-server-hot-a-config-")]
        sts = by_ref(manifests(desc))["StatefulSet/pinot-server-hot-a"]
        volume = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
        return config, volume["configMap"]["name"]

    config, mounted = config_and_volume(description())
    assert mounted == config["metadata"]["name"] and len(mounted) == len("pinot-server-hot-a-config-") + 10
    assert config_and_volume(description()) == (config, mounted)  # the same content, the same name
    desc = description()
    desc["node_groups"][3]["pinot"] = {"properties": {"pinot.server.query.executor.timeout": 1}}
    changed, mounted_after = config_and_volume(desc)
    assert mounted_after == changed["metadata"]["name"] != mounted


def test_role_config_change_rolls_every_group_of_the_role():
    before = by_ref(manifests())
    desc = description()
    desc["pinot"]["broker"] = {"properties": {"pinot.broker.timeoutMs": 5000}}
    after = by_ref(manifests(desc))
    changed = {ref for ref in before if before[ref] != after[ref]}
    assert changed == {"ConfigMap/pinot-broker-a-config", "StatefulSet/pinot-broker-a",
                       "ConfigMap/pinot-broker-b-config", "StatefulSet/pinot-broker-b"}


def test_replicas_omitted_and_partition():
    refs = by_ref(manifests(partitions={"server-hot-a": 1}))
    assert "replicas" not in refs["StatefulSet/pinot-server-cold-c"]["spec"]
    assert refs["StatefulSet/pinot-server-hot-a"]["spec"]["updateStrategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"partition": 1}}


def test_subset_renders_only_those_groups():
    cluster = normalise_cluster(description(zookeeper={"managed": {"replicas": 3}}))
    groups = [g for g in cluster["node_groups"] if g["name"] == "server-hot-b"]
    stages = render_cluster(cluster, groups)
    refs = sorted(by_ref(m for _s, items in stages for m in items))
    assert refs == ["ConfigMap/pinot-server-hot-b-config", "PodDisruptionBudget/pinot-server-hot-b",
                    "Service/pinot-server", "Service/pinot-server-hot-b-headless", "StatefulSet/pinot-server-hot-b"]
    assert container(by_ref(stages[0][1])["StatefulSet/pinot-server-hot-b"])["image"] == "apachepinot/pinot:1.5.1"


def test_managed_zookeeper():
    desc = description(zookeeper={"managed": {"replicas": 3, "storage": {"size": "2Gi"}}})
    cluster = normalise_cluster(desc)
    stages = render_cluster(cluster)
    assert stages[0][0] == "zookeeper"
    refs = by_ref(stages[0][1])
    sts = refs["StatefulSet/pinot-zookeeper"]
    assert env(sts)["ZOO_SERVERS"]["value"].split() == [
        f"server.{i + 1}=pinot-zookeeper-{i}.pinot-zookeeper-headless:2888:3888;2181" for i in range(3)]
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert "Service/pinot-zookeeper" in refs
    broker = by_ref(stages[2][1])["StatefulSet/pinot-broker-a"]
    # Every member by name, so a client can fail over from a lost one without its session timing out.
    args = container(broker)["args"]
    assert args[args.index("-zkAddress") + 1] == ",".join(
        f"pinot-zookeeper-{i}.pinot-zookeeper-headless:2181" for i in range(3))


def test_rendering_is_pure_and_deterministic():
    desc = description()
    snapshot = copy.deepcopy(desc)
    assert manifests(desc) == manifests(desc)
    assert desc == snapshot


def test_version_label():
    assert version_of("apachepinot/pinot:1.4.0") == "1.4.0"
    assert version_of("registry:5000/pinot") is None
    assert version_of("pinot:1.4.0@sha256:abc") == "1.4.0"
    assert version_of("r.io/a/pinot:release-1.4.0+build") == "release-1.4.0build"


def test_managed_zookeeper_spreads_over_the_clusters_zones():
    desc = description(zookeeper={"managed": {"replicas": 3, "storage": {"size": "2Gi"}}})
    pod = by_ref(render_cluster(normalise_cluster(desc))[0][1])["StatefulSet/pinot-zookeeper"]["spec"]["template"][
        "spec"]
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == ZONE_LABEL
    assert pod["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "DoNotSchedule"
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][-1]["values"] == ["zone-a", "zone-b", "zone-c"]
    for group in desc["node_groups"]:
        group.pop("zone", None), group.pop("zones", None)
    pod = by_ref(render_cluster(normalise_cluster(desc))[0][1])["StatefulSet/pinot-zookeeper"]["spec"]["template"][
        "spec"]
    assert "topologySpreadConstraints" not in pod and "affinity" not in pod


def test_brokers_stop_routing_to_a_server_whose_connection_fails_unless_told_otherwise():
    desc = description()
    desc["node_groups"][2]["pinot"] = {"properties": {"pinot.broker.failure.detector.type": "NO_OP"}}
    refs = by_ref(manifests(desc))
    assert "pinot.broker.failure.detector.type=CONNECTION" in \
        refs["ConfigMap/pinot-broker-a-config"]["data"]["pinot-broker.conf"].splitlines()
    assert "pinot.broker.failure.detector.type=NO_OP" in \
        refs["ConfigMap/pinot-broker-b-config"]["data"]["pinot-broker.conf"].splitlines()
    assert "failure.detector" not in refs["ConfigMap/pinot-server-hot-a-config"]["data"]["pinot-server.conf"]


def test_pool_annotation_and_pod_management_policy():
    desc = description()
    desc["node_groups"][4]["overrides"]["pod_management_policy"] = "Parallel"
    refs = by_ref(manifests(desc))
    annotations = {name: refs[f"StatefulSet/pinot-{name}"]["metadata"].get("annotations", {}).get(
        "pinotops.io/pinot-instance-pool") for name in ("server-hot-a", "server-hot-b", "server-cold-c")}
    assert annotations == {"server-hot-a": "0", "server-hot-b": "1", "server-cold-c": "2"}
    assert refs["StatefulSet/pinot-server-hot-b"]["spec"]["podManagementPolicy"] == "Parallel"
    assert refs["StatefulSet/pinot-server-hot-a"]["spec"]["podManagementPolicy"] == "OrderedReady"


def test_a_deep_store_is_in_the_configs_and_its_key_pair_only_in_secret_references():
    desc = description(deep_store={"uri": "s3://pinot-segments/analytics", "region": "eu-west-1",
                                   "endpoint": "http://10.250.0.1:9000", "credentials_secret": {"name": "pinot-s3"}})
    items = manifests(desc)
    refs = by_ref(items)
    controller_conf = refs["ConfigMap/pinot-controller-config"]["data"]["pinot-controller.conf"].splitlines()
    assert "controller.data.dir=s3://pinot-segments/analytics" in controller_conf
    # Without a local directory for uploads in progress a controller with a remote data dir does not start.
    assert "controller.local.temp.dir=/var/pinot/controller/data/upload" in controller_conf
    assert "pinot.controller.storage.factory.s3.endpoint=http://10.250.0.1:9000" in controller_conf
    assert "pinot.server.segment.fetcher.protocols=file,http,s3" in \
        refs["ConfigMap/pinot-server-hot-a-config"]["data"]["pinot-server.conf"].splitlines()
    for sts in ("controller", "server-hot-a", "minion"):
        variables = env(refs[f"StatefulSet/pinot-{sts}"])
        assert variables["AWS_ACCESS_KEY_ID"]["valueFrom"] == {"secretKeyRef": {"name": "pinot-s3",
                                                                                "key": "AWS_ACCESS_KEY_ID"}}
        assert variables["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "pinot-s3"
    assert "AWS_ACCESS_KEY_ID" not in env(refs["StatefulSet/pinot-broker-a"])
    # No ConfigMap carries the key pair (S3PinotFS's accessKey/secretKey properties stay unset) and no variable a
    # value: the pods read the Secret, pinotops never does.
    configs = " ".join(conf for m in items if m["kind"] == "ConfigMap" for conf in m["data"].values())
    assert ".s3.accesskey" not in configs.lower() and ".s3.secretkey" not in configs.lower()
    assert all("value" not in e for m in items if m["kind"] == "StatefulSet"
               for e in container(m)["env"] if e["name"].startswith("AWS_"))


def test_a_local_data_dir_gets_no_temporary_dir_and_a_given_one_is_kept():
    desc = description()
    conf = by_ref(manifests(desc))["ConfigMap/pinot-controller-config"]["data"]["pinot-controller.conf"]
    assert "controller.local.temp.dir" not in conf
    desc["pinot"] = {"controller": {"properties": {"controller.data.dir": "gs://segments/a",
                                                   "controller.local.temp.dir": "/tmp/uploads"}}}
    conf = by_ref(manifests(desc))["ConfigMap/pinot-controller-config"]["data"]["pinot-controller.conf"]
    assert "controller.local.temp.dir=/tmp/uploads" in conf.splitlines()


def test_secret_and_config_map_volumes_are_mounted_read_only_by_default():
    desc = description()
    desc["profiles"]["hot"]["volumes"] = [
        {"name": "tls", "secret": "pinot-tls", "mount_path": "/etc/pinot/tls",
         "items": [{"key": "keystore.p12", "path": "keystore.p12"}], "optional": True},
        {"name": "extra", "config_map": "pinot-extra", "mount_path": "/opt/pinot/conf/extra", "read_only": False}]
    sts = by_ref(manifests(desc))["StatefulSet/pinot-server-hot-a"]
    pod = sts["spec"]["template"]["spec"]
    assert pod["volumes"][-2:] == [
        {"name": "tls", "secret": {"secretName": "pinot-tls", "items": [{"key": "keystore.p12",
                                                                         "path": "keystore.p12"}], "optional": True}},
        {"name": "extra", "configMap": {"name": "pinot-extra"}}]
    assert container(sts)["volumeMounts"][-2:] == [
        {"name": "tls", "mountPath": "/etc/pinot/tls", "readOnly": True},
        {"name": "extra", "mountPath": "/opt/pinot/conf/extra", "readOnly": False}]
    assert [v["name"] for v in pod["volumes"]][0] == "config"
    # Groups of other profiles are unchanged.
    other = by_ref(manifests(desc))["StatefulSet/pinot-controller"]["spec"]["template"]["spec"]
    assert [v["name"] for v in other["volumes"]] == ["config"]
