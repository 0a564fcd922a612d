"""`metrics` of a profile: the Prometheus JMX exporter's agent, its port, scrape annotations or a ServiceMonitor."""

import copy

import pytest
from cluster_fixtures import description

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import (
    JVM_DEFAULTS,
    render_cluster,
    render_zookeeper,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import METRICS_JAR, normalise_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import ROLE_PORTS

AGENT = "/opt/pinot/etc/jmx_prometheus_javaagent/jmx_prometheus_javaagent.jar"
CONFIGS = "/opt/pinot/etc/jmx_prometheus_javaagent/configs"
SCRAPE = {"prometheus.io/scrape": "true", "prometheus.io/port": "8008", "prometheus.io/path": "/metrics"}
# The fixture's groups: 0 controller (small), 1 broker-a, 2 broker-b (no profile), 3 server-hot-a (hot),
# 4 server-hot-b (hot + overrides), 5 server-cold-c (small, own jvm_opts), 6 minion (no profile).
HOT = ("server-hot-a", "server-hot-b")


def with_metrics(metrics, profile="hot", desc=None):
    desc = copy.deepcopy(desc or description())
    desc["profiles"][profile]["metrics"] = metrics
    return desc


def objects(desc):
    cluster = normalise_cluster(desc)
    return {f"{m['kind']}/{m['metadata']['name']}": m for _stage, items in render_cluster(cluster) for m in items}


def sts(items, group):
    return items[f"StatefulSet/pinot-{group}"]


def container(statefulset):
    return statefulset["spec"]["template"]["spec"]["containers"][0]


def java_opts(statefulset):
    return next(e["value"] for e in container(statefulset)["env"] if e["name"] == "JAVA_OPTS")


def error_of(desc):
    with pytest.raises(SpecError) as info:
        normalise_cluster(desc)
    return info.value


# --------------------------------------------------------------------------- nothing without `metrics`


def test_without_metrics_nothing_of_it_is_rendered():
    cluster = normalise_cluster(description())
    assert all(group["metrics"] is None for group in cluster["node_groups"])
    items = objects(description())
    assert not [ref for ref in items if ref.startswith("ServiceMonitor/")]
    for ref, obj in items.items():
        if obj["kind"] == "StatefulSet":
            assert "-javaagent" not in java_opts(obj), ref
            assert "metrics" not in [p["name"] for p in container(obj)["ports"]], ref
            annotations = obj["spec"]["template"]["metadata"].get("annotations") or {}
            assert not [key for key in annotations if key.startswith("prometheus.io/")], ref
        if obj["kind"] == "Service":
            assert "metrics" not in [p["name"] for p in obj["spec"]["ports"]], ref


def test_metrics_disabled_renders_exactly_what_no_metrics_does():
    assert objects(with_metrics({"enabled": False, "port": 9404, "service_monitor": True})) == objects(description())


# --------------------------------------------------------------------------- defaults and rendering


def test_an_empty_metrics_mapping_starts_the_agent_of_the_official_image_with_the_roles_config():
    cluster = normalise_cluster(with_metrics({}))
    groups = {g["name"]: g for g in cluster["node_groups"]}
    assert groups["server-hot-a"]["metrics"] == {
        "port": 8008, "path": "/metrics", "config": f"{CONFIGS}/server.yml", "jar": AGENT, "service_monitor": False,
        "service_monitor_labels": {}}
    assert METRICS_JAR == AGENT
    assert [name for name, g in groups.items() if g["metrics"]] == list(HOT)


def test_the_agent_option_comes_after_pinotops_defaults_and_before_the_descriptions_jvm_opts():
    desc = with_metrics({}, profile="small")
    items = objects(desc)
    agent = f"-javaagent:{AGENT}=8008:{CONFIGS}/controller.yml"
    assert java_opts(sts(items, "controller")) == (
        f"{JVM_DEFAULTS} {agent} -Xms256m -Xmx1g -Dlog4j2.configurationFile=/opt/pinot/etc/conf/"
        "pinot-controller-log4j2.xml -Dplugins.dir=/opt/pinot/plugins")
    # The group's own jvm_opts replace the role's; the agent stays, with the server's config.
    assert java_opts(sts(items, "server-cold-c")).startswith(
        f"{JVM_DEFAULTS} -javaagent:{AGENT}=8008:{CONFIGS}/server.yml -Xmx2g ")


def test_the_port_is_declared_on_the_container_and_the_headless_service_not_the_client_service():
    items = objects(with_metrics({"port": 9404}))
    for group in HOT:
        assert {"name": "metrics", "containerPort": 9404, "protocol": "TCP"} in container(sts(items, group))["ports"]
        assert {"name": "metrics", "port": 9404, "targetPort": 9404, "protocol": "TCP"} in \
            items[f"Service/pinot-{group}-headless"]["spec"]["ports"]
        assert f"=9404:{CONFIGS}/server.yml" in java_opts(sts(items, group))
    assert "metrics" not in [p["name"] for p in items["Service/pinot-server"]["spec"]["ports"]]
    assert "metrics" not in [p["name"] for p in container(sts(items, "server-cold-c"))["ports"]]


def test_scrape_annotations_join_the_profiles_pod_annotations():
    items = objects(with_metrics({}))
    assert sts(items, "server-hot-a")["spec"]["template"]["metadata"]["annotations"] == {"team": "olap", **SCRAPE}
    assert not [ref for ref in items if ref.startswith("ServiceMonitor/")]


def test_a_pod_annotation_that_agrees_with_the_scrape_annotations_is_accepted():
    desc = with_metrics({})
    desc["profiles"]["hot"]["pod_annotations"]["prometheus.io/scrape"] = "true"
    annotations = sts(objects(desc), "server-hot-a")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"team": "olap", **SCRAPE}


def test_a_custom_config_and_jar_in_the_image():
    desc = with_metrics({"config": "/etc/pinot-metrics/rules.yml", "jar": "/opt/agents/jmx.jar", "port": 9404})
    assert "-javaagent:/opt/agents/jmx.jar=9404:/etc/pinot-metrics/rules.yml " in \
        java_opts(sts(objects(desc), "server-hot-a"))


def test_overrides_turn_a_profiles_metrics_off_or_change_them_for_one_group():
    desc = with_metrics({"port": 9404})
    desc["node_groups"][4]["overrides"]["metrics"] = {"enabled": False}
    cluster = normalise_cluster(desc)
    groups = {g["name"]: g for g in cluster["node_groups"]}
    assert groups["server-hot-a"]["metrics"]["port"] == 9404
    assert groups["server-hot-b"]["metrics"] is None
    desc["node_groups"][4]["overrides"]["metrics"] = {"port": 9500}  # merged key by key over the profile's
    groups = {g["name"]: g for g in normalise_cluster(desc)["node_groups"]}
    assert groups["server-hot-b"]["metrics"]["port"] == 9500
    # A group without a profile gets metrics through its overrides alone.
    desc["node_groups"][6]["overrides"] = {"metrics": {}}
    items = objects(desc)
    assert f"-javaagent:{AGENT}=8008:{CONFIGS}/minion.yml" in java_opts(sts(items, "minion"))


def test_a_service_monitor_selects_the_groups_headless_service_and_scrapes_its_metrics_port():
    items = objects(with_metrics({"service_monitor": True, "service_monitor_labels": {"release": "prometheus"}}))
    monitors = sorted(ref for ref in items if ref.startswith("ServiceMonitor/"))
    assert monitors == [f"ServiceMonitor/pinot-{group}" for group in HOT]
    monitor = items["ServiceMonitor/pinot-server-hot-a"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == "analytics"
    labels = monitor["metadata"]["labels"]
    assert labels["release"] == "prometheus"
    assert labels["app.kubernetes.io/managed-by"] == "pinotops.k8s"  # found, pruned and deleted with the cluster
    assert labels["app.kubernetes.io/instance"] == "pinot"
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics"}]
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = [ref for ref, obj in items.items() if obj["kind"] == "Service"
                and selector.items() <= obj["metadata"]["labels"].items()]
    assert selected == ["Service/pinot-server-hot-a-headless"]
    assert "metrics" in [p["name"] for p in items[selected[0]]["spec"]["ports"]]
    # Prometheus finds the pods through the ServiceMonitor: no scrape annotations as well (no second scrape).
    assert sts(items, "server-hot-a")["spec"]["template"]["metadata"]["annotations"] == {"team": "olap"}


def test_the_service_monitor_is_applied_with_its_role_after_the_statefulset():
    cluster = normalise_cluster(with_metrics({"service_monitor": True}))
    stages = dict(render_cluster(cluster))
    kinds = [m["kind"] for m in stages["server"]]
    assert kinds[-2:] == ["ServiceMonitor", "ServiceMonitor"]
    assert "ServiceMonitor" not in [m["kind"] for m in stages["broker"]]


def test_rendering_is_pure_and_repeatable():
    desc = with_metrics({"service_monitor": True, "service_monitor_labels": {"release": "prometheus"}})
    cluster = normalise_cluster(desc)
    before = copy.deepcopy(cluster)
    first = render_cluster(cluster)
    assert render_cluster(cluster) == first
    assert cluster == before
    assert normalise_cluster(copy.deepcopy(desc)) == cluster


def test_a_managed_zookeepers_profile_ignores_metrics():
    desc = with_metrics({"port": 9404}, profile="small")
    desc["zookeeper"] = {"managed": {"profile": "small"}}
    for obj in render_zookeeper(normalise_cluster(desc)):
        assert "9404" not in str(obj) and "javaagent" not in str(obj) and "prometheus.io" not in str(obj)


# --------------------------------------------------------------------------- validation names the field


def server_jvm_opts(opts):
    desc = with_metrics({})
    desc["pinot"]["server"]["jvm_opts"] = opts
    return desc


def group_overrides(index, **overrides):
    desc = with_metrics({})
    desc["node_groups"][index].setdefault("overrides", {}).update(overrides)
    return desc


def group_jvm_opts(index, opts, profile="small"):
    desc = with_metrics({}, profile=profile)
    desc["node_groups"][index]["pinot"]["jvm_opts"] = opts
    return desc


def annotated(value):
    desc = with_metrics({})
    desc["profiles"]["hot"]["pod_annotations"]["prometheus.io/port"] = value
    return desc


HOT_METRICS = "cluster.profiles.hot.metrics"


@pytest.mark.parametrize(("desc", "field", "words"), [
    (with_metrics("on"), HOT_METRICS, "mapping"),
    (with_metrics({"interval": "30s"}), f"{HOT_METRICS}.interval", "unknown key"),
    (with_metrics({"enabled": "yes"}), f"{HOT_METRICS}.enabled", "boolean"),
    (with_metrics({"service_monitor": "true"}), f"{HOT_METRICS}.service_monitor", "boolean"),
    (with_metrics({"port": "8008"}), f"{HOT_METRICS}.port", "integer"),
    (with_metrics({"port": True}), f"{HOT_METRICS}.port", "integer"),
    (with_metrics({"port": 0}), f"{HOT_METRICS}.port", "1 to 65535"),
    (with_metrics({"port": 70000}), f"{HOT_METRICS}.port", "1 to 65535"),
    (with_metrics({"config": "configs/server.yml"}), f"{HOT_METRICS}.config", "absolute file path"),
    (with_metrics({"config": "/etc/my rules.yml"}), f"{HOT_METRICS}.config", "no blanks"),
    (with_metrics({"config": "/etc/../rules.yml"}), f"{HOT_METRICS}.config", "absolute file path"),
    (with_metrics({"jar": "/opt/a=b.jar"}), f"{HOT_METRICS}.jar", "'='"),
    (with_metrics({"jar": "/opt/agents/"}), f"{HOT_METRICS}.jar", "absolute file path"),
    (with_metrics({"service_monitor_labels": {"release": 1}}), f"{HOT_METRICS}.service_monitor_labels.release",
     "string"),
    (with_metrics({"service_monitor_labels": {"pinotops.io/node-group": "x"}}),
     f"{HOT_METRICS}.service_monitor_labels.pinotops.io/node-group", "set by pinotops"),
    # the role's own ports
    (with_metrics({"port": 8097}), f"{HOT_METRICS}.port", "server's admin port (pinot.server.adminapi.port)"),
    (with_metrics({"port": 9000}, profile="small"), "cluster.profiles.small.metrics.port", "controller's http port"),
    (group_overrides(4, metrics={"port": 8442}), "cluster.node_groups[4].overrides.metrics.port", "mailbox port"),
    (group_overrides(6, metrics={"port": 9514}), "cluster.node_groups[6].overrides.metrics.port",
     "minion's http port"),
    # a second JMX exporter in jvm_opts: the role's, or the group's own
    (server_jvm_opts(f"-Xmx4g -javaagent:{AGENT}=9404:/x.yml"), "cluster.pinot.server.jvm_opts", "-javaagent"),
    (server_jvm_opts("-javaagent:/opt/jmx/jmx_prometheus_javaagent-0.20.0.jar=9404:/x.yml"),
     "cluster.pinot.server.jvm_opts", "remove the -javaagent option"),
    (group_jvm_opts(5, "-javaagent:/agents/JMX_EXPORTER.jar"), "cluster.node_groups[5].pinot.jvm_opts",
     "starts the JMX exporter"),
    # scrape annotations that say otherwise
    (annotated("9999"), "cluster.profiles.hot.pod_annotations.prometheus.io/port", "'9999', but `metrics` sets it"),
    (group_overrides(4, pod_annotations={"prometheus.io/scrape": "false"}),
     "cluster.node_groups[4].overrides.pod_annotations.prometheus.io/scrape", "'false'"),
])
def test_bad_metrics_name_the_field(desc, field, words):
    error = error_of(desc)
    assert error.field == field
    assert words in error.message


def test_every_role_port_is_refused_as_the_metrics_port():
    for role, ports in ROLE_PORTS.items():
        profile = {"controller": "small", "server": "hot"}.get(role)
        for _name, port, _prop, _client in ports:
            desc = with_metrics({"port": port}, profile=profile) if profile else description()
            if not profile:
                index = {"broker": 2, "minion": 6}[role]
                desc["node_groups"][index]["overrides"] = {"metrics": {"port": port}}
            assert "port" in error_of(desc).message


def test_another_java_agent_is_kept():
    desc = server_jvm_opts("-javaagent:/opt/otel/opentelemetry-javaagent.jar -Xmx4g")
    opts = java_opts(sts(objects(desc), "server-hot-a"))
    assert f"-javaagent:{AGENT}=8008:{CONFIGS}/server.yml -javaagent:/opt/otel/opentelemetry-javaagent.jar " in opts


def test_scrape_annotations_of_ones_own_are_left_alone_with_a_service_monitor():
    desc = annotated("9999")
    desc["profiles"]["hot"]["metrics"] = {"service_monitor": True}
    annotations = sts(objects(desc), "server-hot-a")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"team": "olap", "prometheus.io/port": "9999"}
