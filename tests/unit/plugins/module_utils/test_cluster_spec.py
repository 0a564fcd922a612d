import pytest
from cluster_fixtures import description

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster_spec import (
    check_partitions,
    normalise_cluster,
    parse_quantity,
    select_groups,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError


def group_change(index, **changes):
    desc = description()
    desc["node_groups"][index].update(changes)
    return desc


def error_of(desc):
    with pytest.raises(SpecError) as info:
        normalise_cluster(desc)
    return info.value


def test_defaults_and_merge():
    cluster = normalise_cluster(description())
    assert cluster["helix_cluster_name"] == "pinot"
    assert cluster["deployment_order"] == ["controller", "broker", "server", "minion"]
    groups = {g["name"]: g for g in cluster["node_groups"]}
    assert groups["broker-a"]["zones"] == ["zone-a"]
    assert groups["server-cold-c"]["replicas"] is None  # left to an HPA
    assert groups["server-hot-b"]["image"] == "apachepinot/pinot:1.5.1"
    assert groups["server-hot-a"]["image"] == "apachepinot/pinot:1.4.0"
    # deep merge of the profile and the inline overrides
    assert groups["server-hot-b"]["settings"]["resources"] == {"requests": {"cpu": "2", "memory": "8Gi"},
                                                               "limits": {"memory": "10Gi"}}
    # role config merged with the group's: group wins, values rendered as strings
    assert groups["server-cold-c"]["jvm_opts"] == "-Xmx2g"
    assert groups["server-cold-c"]["properties"] == {"pinot.server.instance.realtime.alloc.offheap": "true",
                                                     "pinot.server.query.executor.timeout": "30000"}
    assert groups["controller"]["jvm_opts"] == "-Xms256m -Xmx1g"
    assert [e["name"] for e in groups["controller"]["secret_env"]] == ["PINOT_ADMIN_PASSWORD"]
    assert groups["broker-a"]["secret_env"] == []


@pytest.mark.parametrize(("desc", "field", "words"), [
    (group_change(2, role="brokr"), "cluster.node_groups[2].role", "unknown role"),
    (group_change(2, name="broker-a"), "cluster.node_groups[2].name", "duplicate"),
    (group_change(2, name="Broker_B"), "cluster.node_groups[2].name", "DNS-1123"),
    (group_change(3, replicas=-1), "cluster.node_groups[3].replicas", "0 or more"),
    (group_change(3, replicas="2"), "cluster.node_groups[3].replicas", "integer"),
    (group_change(3, profile="warm"), "cluster.node_groups[3].profile", "unknown profile"),
    (group_change(3, zones=["zone-a"]), "cluster.node_groups[3].zones", "either"),
    (group_change(4, zones=["zone-a", "zone-a"], zone=None), "cluster.node_groups[4].zones", "twice"),
    (group_change(3, colour="red"), "cluster.node_groups[3].colour", "unknown key"),
    (group_change(1, tags=["hot_OFFLINE"]), "cluster.node_groups[1].tags[0]", "_BROKER"),
    (group_change(3, tags=["hot"]), "cluster.node_groups[3].tags[0]", "_OFFLINE"),
    (group_change(0, tags=["x"]), "cluster.node_groups[0].tags", "no Pinot instance tags"),
    (group_change(1, pool=1), "cluster.node_groups[1].pool", "server"),
    (group_change(3, overrides={"storage": {"size": "ten"}}), "cluster.node_groups[3].overrides.storage.size",
     "quantity"),
    (group_change(3, overrides={"pod_labels": {"app.kubernetes.io/name": "x"}}),
     "cluster.node_groups[3].overrides.pod_labels.app.kubernetes.io/name", "set by pinotops"),
    (group_change(3, pinot={"properties": {"pinot.server.netty.port": 1}}),
     "cluster.node_groups[3].pinot.properties[pinot.server.netty.port]", "set by pinotops"),
    (group_change(3, name="x" * 50), "cluster.node_groups[3].name", "longer than 52"),
    (description(deployment_order=["broker", "controller", "server"]), "cluster.deployment_order",
     "missing: minion"),
    (description(deployment_order=["controller", "broker", "server", "minion", "broker"]),
     "cluster.deployment_order", "twice"),
    (description(deployment_order=["controller", "brokers", "server", "minion"]), "cluster.deployment_order[1]",
     "unknown role"),
    (description(zookeeper={"address": "zk:2181", "managed": {}}), "cluster.zookeeper", "exactly one"),
    (description(zookeeper={}), "cluster.zookeeper", "exactly one"),
    (description(name="1pinot"), "cluster.name", "DNS-1035"),
    (description(extra=1), "cluster.extra", "unknown key"),
    (description(node_groups=[]), "cluster.node_groups", "at least one"),
    (description(node_groups=[{"name": "b", "role": "broker"}]), "cluster.node_groups", "controller"),
])
def test_errors_name_the_field(desc, field, words):
    error = error_of(desc)
    assert error.field == field
    assert words in str(error)


def test_plaintext_credentials_refused():
    desc = description()
    desc["pinot"]["controller"]["properties"]["controller.admin.access.control.principals.admin.password"] = "s3cr3t"
    error = error_of(desc)
    assert error.field == ("cluster.pinot.controller.properties"
                           "[controller.admin.access.control.principals.admin.password]")
    assert "plaintext" in str(error)
    assert "s3cr3t" not in str(error)


def test_plaintext_credentials_in_jvm_opts_refused():
    desc = description()
    desc["pinot"]["controller"]["jvm_opts"] = "-Xmx1g -Djavax.net.ssl.keyStorePassword=s3cr3t"
    error = error_of(desc)
    assert error.field == "cluster.pinot.controller.jvm_opts"
    assert "-Djavax.net.ssl.keyStorePassword looks like a credential" in str(error)
    assert "$(NAME)" in str(error) and "s3cr3t" not in str(error)
    # From the role's secret_env, through Kubernetes' $(NAME) expansion, it is accepted.
    desc["pinot"]["controller"]["jvm_opts"] = "-Xmx1g -Djavax.net.ssl.keyStorePassword=$(PINOT_ADMIN_PASSWORD)"
    normalise_cluster(desc)
    desc["node_groups"][1]["pinot"] = {"jvm_opts": "-Djavax.net.ssl.keyStorePassword=$(PINOT_ADMIN_PASSWORD)"}
    error = error_of(desc)
    assert error.field == "cluster.node_groups[1].pinot.jvm_opts"
    assert "refers to $(PINOT_ADMIN_PASSWORD), which is not defined for the broker role" in str(error)


def test_secret_reference_must_be_for_the_role_and_use_env_prefix():
    desc = description()
    desc["pinot"]["broker"] = {"properties": {"pinot.broker.x": "${env:PINOT_ADMIN_PASSWORD}"}}
    assert "not defined for the broker role" in str(error_of(desc))
    desc = description()
    desc["pinot"]["controller"]["properties"]["controller.admin.access.control.principals.admin.password"] = \
        "${PINOT_ADMIN_PASSWORD}"
    assert "${env:PINOT_ADMIN_PASSWORD}" in str(error_of(desc))


def test_client_service_settings_must_agree():
    desc = description()
    desc["profiles"]["lb"] = {"service": {"type": "LoadBalancer"}}
    desc["node_groups"][1]["profile"] = "lb"
    error = error_of(desc)
    assert error.field == "cluster.node_groups[2].profile"


def test_managed_zookeeper_defaults_and_reserved_name():
    cluster = normalise_cluster(description(zookeeper={"managed": {}}))
    assert cluster["zookeeper"]["managed"] == {"replicas": 3, "image": "zookeeper:3.9.3",
                                               "storage": {"size": "5Gi", "class": None}, "profile": None}
    desc = description(zookeeper={"managed": {"replicas": 1}})
    desc["node_groups"][6]["name"] = "zookeeper"
    assert error_of(desc).field == "cluster.node_groups[6].name"


def test_subset_and_partitions():
    cluster = normalise_cluster(description())
    assert [g["name"] for g in select_groups(cluster, ["minion", "broker-a"])] == ["broker-a", "minion"]
    with pytest.raises(SpecError) as info:
        select_groups(cluster, ["nope"])
    assert info.value.field == "node_groups[0]"
    assert check_partitions(cluster, {"server-hot-a": 1, "broker-a": "0"}) == {"server-hot-a": 1, "broker-a": 0}
    with pytest.raises(SpecError):
        check_partitions(cluster, {"server-hot-a": -1})
    with pytest.raises(SpecError):
        check_partitions(cluster, {"ghost": 1})


def test_quantities():
    assert parse_quantity("10Gi") == parse_quantity("10240Mi")
    assert parse_quantity("500m") == 0.5
    assert parse_quantity("1e3") == 1000


@pytest.mark.parametrize(("data_dir", "storage", "refused"), [
    (None, None, True),  # the default /var/pinot/controller/data in an emptyDir
    ("file:///var/pinot/controller/data", None, True),
    ("/mnt/segments", None, True),
    ("s3://bucket/pinot", None, False),
    ("gs://bucket/pinot", None, False),
    (None, {"size": "10Gi"}, False),
])
def test_a_controller_segment_store_that_dies_with_the_pod_is_refused(data_dir, storage, refused):
    desc = description()
    desc["profiles"]["small"]["storage"] = storage
    if data_dir:
        desc["pinot"]["controller"]["properties"]["controller.data.dir"] = data_dir
    if not refused:
        normalise_cluster(desc)
        return
    with pytest.raises(SpecError) as raised:
        normalise_cluster(desc)
    assert raised.value.field == "cluster.node_groups[0].profile"
    assert "emptyDir" in str(raised.value) and "storage.size" in str(raised.value)


# -- zones and Pinot pools -------------------------------------------------------------------------------------

def pools_of(desc):
    cluster = normalise_cluster(desc)
    return cluster["zone_pools"], {g["name"]: g["pool"] for g in cluster["node_groups"] if g["role"] == "server"}


def test_zones_take_the_lowest_free_pools_in_name_order_around_a_named_one():
    # server-hot-a names pool 0 for zone-a; zone-b and zone-c take 1 and 2.
    zone_pools, groups = pools_of(description())
    assert zone_pools == {"zone-a": 0, "zone-b": 1, "zone-c": 2}
    assert groups == {"server-hot-a": 0, "server-hot-b": 1, "server-cold-c": 2}
    desc = group_change(3, pool=5)
    assert pools_of(desc)[0] == {"zone-a": 5, "zone-b": 0, "zone-c": 1}


def test_zone_pools_pin_the_numbers_and_a_group_of_the_zone_inherits_them():
    desc = group_change(3, pool=None)
    desc["zone_pools"] = {"zone-c": 0}
    zone_pools, groups = pools_of(desc)
    assert zone_pools == {"zone-a": 1, "zone-b": 2, "zone-c": 0}
    assert groups == {"server-hot-a": 1, "server-hot-b": 2, "server-cold-c": 0}


def test_a_server_group_in_several_zones_or_none_has_no_pool_unless_it_names_one():
    desc = group_change(5, zone=None, zones=["zone-a", "zone-c"])
    assert pools_of(desc)[1]["server-cold-c"] is None
    desc = group_change(5, zone=None, pool=1)  # its pool is its own: the zones take others
    zone_pools, groups = pools_of(desc)
    assert groups["server-cold-c"] == 1 and zone_pools == {"zone-a": 0, "zone-b": 2}
    assert error_of(group_change(5, zone=None, pool=0)).field == "cluster.node_groups[5].pool"


def test_two_zones_in_one_pool_or_a_zone_in_two_pools_names_the_field():
    error = error_of(group_change(4, pool=0))
    assert error.field == "cluster.node_groups[4].pool"
    assert "zone-a" in error.message and "share a zone" in error.message
    desc = description()
    desc["node_groups"].append({"name": "server-more-a", "role": "server", "replicas": 1, "zone": "zone-a",
                                "pool": 3})
    error = error_of(desc)
    assert error.field == "cluster.node_groups[7].pool" and "pool 0 already" in error.message
    desc = description(zone_pools={"zone-b": 0})
    assert error_of(desc).field == "cluster.node_groups[3].pool"


def test_zone_pools_names_its_bad_entries():
    assert error_of(description(zone_pools={"zone-x": 1})).field == "cluster.zone_pools.zone-x"
    assert error_of(description(zone_pools={"zone-b": "1"})).field == "cluster.zone_pools.zone-b"
    assert error_of(description(zone_pools={"zone-b": -1})).field == "cluster.zone_pools.zone-b"
    assert error_of(description(zone_pools=["zone-b"])).field == "cluster.zone_pools"
    # broker-a is in zone-a alone, but brokers have no pools
    assert error_of(group_change(1, pool=0)).field == "cluster.node_groups[1].pool"


def test_pod_management_policy_is_checked():
    desc = group_change(4, overrides={"pod_management_policy": "Parallel"})
    groups = {g["name"]: g for g in normalise_cluster(desc)["node_groups"]}
    assert groups["server-hot-b"]["settings"]["pod_management_policy"] == "Parallel"
    error = error_of(group_change(4, overrides={"pod_management_policy": "parallel"}))
    assert error.field == "cluster.node_groups[4].overrides.pod_management_policy"
