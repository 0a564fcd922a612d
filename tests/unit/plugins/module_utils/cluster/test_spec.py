import pytest
from cluster_fixtures import description

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import (
    normalise_cluster,
    parse_quantity,
    secret_references,
    select_groups,
    validate_partitions,
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
    assert validate_partitions(cluster, {"server-hot-a": 1, "broker-a": "0"}) == {"server-hot-a": 1, "broker-a": 0}
    with pytest.raises(SpecError):
        validate_partitions(cluster, {"server-hot-a": -1})
    with pytest.raises(SpecError):
        validate_partitions(cluster, {"ghost": 1})


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


# -- deep store, volumes, controllers in HA ----------------------------------------------------------------

DEEP_STORE = {"uri": "s3://pinot-segments/analytics/", "region": "eu-west-1", "endpoint": "http://10.250.0.1:9000",
              "credentials_secret": {"name": "pinot-s3", "access_key_key": "id"}}


def test_a_deep_store_sets_the_s3_file_system_of_the_roles_that_move_segments_and_no_credential():
    cluster = normalise_cluster(description(deep_store=DEEP_STORE))
    assert cluster["deep_store"] == {
        "uri": "s3://pinot-segments/analytics", "region": "eu-west-1", "endpoint": "http://10.250.0.1:9000",
        "credentials_secret": {"name": "pinot-s3", "access_key_key": "id", "secret_key_key": "AWS_SECRET_ACCESS_KEY"}}
    groups = {g["name"]: g for g in cluster["node_groups"]}
    controller = groups["controller"]["properties"]
    assert controller["controller.data.dir"] == "s3://pinot-segments/analytics"
    assert controller["pinot.controller.storage.factory.class.s3"] == "org.apache.pinot.plugin.filesystem.S3PinotFS"
    assert controller["pinot.controller.storage.factory.s3.endpoint"] == "http://10.250.0.1:9000"
    assert controller["pinot.controller.segment.fetcher.s3.class"] == \
        "org.apache.pinot.common.utils.fetcher.PinotFSSegmentFetcher"
    assert groups["server-hot-a"]["properties"]["pinot.server.storage.factory.s3.region"] == "eu-west-1"
    assert groups["server-hot-a"]["properties"]["pinot.server.instance.segment.store.uri"] == \
        "s3://pinot-segments/analytics"
    assert groups["minion"]["properties"]["pinot.minion.segment.fetcher.protocols"] == "file,http,s3"
    assert not any("s3" in key for key in groups["broker-a"]["properties"])
    # The key pair comes from the Secret through the AWS SDK's own variables, for those three roles only.
    for name in ("controller", "server-hot-a", "minion"):
        assert [(e["name"], e["secret"], e["key"]) for e in groups[name]["secret_env"] if e["secret"] == "pinot-s3"] \
            == [("AWS_ACCESS_KEY_ID", "pinot-s3", "id"), ("AWS_SECRET_ACCESS_KEY", "pinot-s3", "AWS_SECRET_ACCESS_KEY")]
    assert all(e["secret"] != "pinot-s3" for e in groups["broker-a"]["secret_env"])
    assert all("key" not in key.lower() for g in groups.values() for key in g["properties"] if "s3" in key)


def test_without_credentials_the_aws_default_chain_applies():
    cluster = normalise_cluster(description(deep_store={"uri": "s3://b-1", "region": "us-east-1"}))
    controller = cluster["node_groups"][0]
    assert controller["properties"]["controller.data.dir"] == "s3://b-1"
    assert "pinot.controller.storage.factory.s3.endpoint" not in controller["properties"]
    assert [e["name"] for e in controller["secret_env"]] == ["PINOT_ADMIN_PASSWORD"]


@pytest.mark.parametrize(("deep_store", "field", "words"), [
    ({"region": "us-east-1"}, "cluster.deep_store.uri", "is required"),
    ({"uri": "gs://b/x", "region": "us-east-1"}, "cluster.deep_store.uri", "not an S3 URI"),
    ({"uri": "s3://B_ad", "region": "us-east-1"}, "cluster.deep_store.uri", "not an S3 URI"),
    ({"uri": "s3://bucket"}, "cluster.deep_store.region", "is required"),
    ({"uri": "s3://bucket", "region": "US East"}, "cluster.deep_store.region", "not an AWS region"),
    ({"uri": "s3://bucket", "region": "x1", "endpoint": "10.0.0.1:9000"}, "cluster.deep_store.endpoint", "http"),
    ({"uri": "s3://bucket", "region": "x1", "credentials_secret": {}}, "cluster.deep_store.credentials_secret.name",
     "is required"),
    ({"uri": "s3://bucket", "region": "x1", "credentials_secret": {"name": "s", "secret_key_key": "a b"}},
     "cluster.deep_store.credentials_secret.secret_key_key", "not a valid Secret key"),
    ({"uri": "s3://bucket", "region": "x1", "bucket": "b"}, "cluster.deep_store.bucket", "unknown key"),
])
def test_a_bad_deep_store_names_its_field(deep_store, field, words):
    error = error_of(description(deep_store=deep_store))
    assert error.field == field and words in error.message


def test_the_aws_variables_come_from_one_place():
    desc = description(deep_store=DEEP_STORE)
    desc["secret_env"].append({"name": "AWS_ACCESS_KEY_ID", "secret": "other", "key": "id"})
    error = error_of(desc)
    assert error.field == "cluster.deep_store.credentials_secret" and "AWS_ACCESS_KEY_ID" in error.message


def test_a_property_the_deep_store_sets_is_changed_there_only():
    desc = description(deep_store=DEEP_STORE)
    desc["pinot"]["server"]["properties"]["pinot.server.storage.factory.s3.region"] = "us-east-1"
    error = error_of(desc)
    assert error.field == "cluster.pinot.server.properties[pinot.server.storage.factory.s3.region]"
    assert "cluster.deep_store" in error.message
    # The same value is no conflict.
    desc["pinot"]["server"]["properties"]["pinot.server.storage.factory.s3.region"] = "eu-west-1"
    normalise_cluster(desc)


def test_the_secret_keys_pods_read_are_listed_with_their_fields():
    refs = secret_references(normalise_cluster(description(deep_store=DEEP_STORE)))
    assert [(r["secret_field"], r["key_field"], r["secret"], r["key"], r["roles"]) for r in refs] == [
        ("cluster.secret_env[0].secret", "cluster.secret_env[0].key", "pinot-auth", "password", ["controller"]),
        ("cluster.deep_store.credentials_secret.name", "cluster.deep_store.credentials_secret.access_key_key",
         "pinot-s3", "id", ["controller", "server", "minion"]),
        ("cluster.deep_store.credentials_secret.name", "cluster.deep_store.credentials_secret.secret_key_key",
         "pinot-s3", "AWS_SECRET_ACCESS_KEY", ["controller", "server", "minion"])]


@pytest.mark.parametrize("controllers", [
    [{"replicas": 3}],
    [{"replicas": 1}, {"replicas": 1}],
    [{"replicas": 1}, {}],  # a group left to an HPA runs at least one
])
def test_several_controllers_without_a_deep_store_are_refused_with_the_reason(controllers):
    desc = description()
    base = desc["node_groups"][0]
    desc["node_groups"][0:1] = [dict(base, name=f"controller-{i}", **c) for i, c in enumerate(controllers)]
    for group in desc["node_groups"][: len(controllers)]:
        if "replicas" not in controllers[desc["node_groups"].index(group)]:
            group.pop("replicas")
    error = error_of(desc)
    assert error.field == "cluster.node_groups[0].replicas"
    assert "no deep store" in error.message and "serves them only from there" in error.message
    assert "cluster.deep_store" in error.message
    normalise_cluster(dict(desc, deep_store={"uri": "s3://bucket", "region": "us-east-1"}))


def test_several_controllers_may_use_a_deep_store_given_by_properties():
    desc = group_change(0, replicas=2)
    desc["pinot"]["controller"]["properties"]["controller.data.dir"] = "gs://bucket/pinot"
    normalise_cluster(desc)
    desc["node_groups"].insert(1, dict(desc["node_groups"][0], name="controller-b", replicas=1,
                                       pinot={"properties": {"controller.data.dir": "/var/pinot/controller/data"}}))
    error = error_of(desc)
    assert error.field == "cluster.node_groups[1].replicas" and "3 controllers" in error.message


def test_one_controller_needs_no_deep_store():
    normalise_cluster(group_change(0, replicas=0))
    normalise_cluster(description())


TLS = {"name": "tls", "secret": "pinot-tls", "mount_path": "/etc/pinot/tls/",
       "items": [{"key": "keystore.p12", "path": "keystore.p12"}]}


def test_volumes_from_secrets_and_config_maps():
    desc = description()
    desc["profiles"]["small"]["volumes"] = [TLS, {"name": "extra", "config_map": "pinot-extra",
                                                  "mount_path": "/opt/pinot/conf/extra", "read_only": False}]
    cluster = normalise_cluster(desc)
    volumes = cluster["node_groups"][0]["settings"]["volumes"]
    assert [v["mount_path"] for v in volumes] == ["/etc/pinot/tls", "/opt/pinot/conf/extra"]


@pytest.mark.parametrize(("volume", "field", "words"), [
    ({"name": "x", "mount_path": "/x"}, "[0]", "exactly one of 'secret' or 'config_map'"),
    ({"name": "x", "secret": "s", "config_map": "c", "mount_path": "/x"}, "[0]", "exactly one"),
    ({"name": "data", "secret": "s", "mount_path": "/x"}, "[0].name", "pinotops mounts itself"),
    ({"name": "X", "secret": "s", "mount_path": "/x"}, "[0].name", "DNS-1123"),
    ({"name": "x", "secret": "S!", "mount_path": "/x"}, "[0].secret", "a Secret name"),
    ({"name": "x", "secret": "s", "mount_path": "relative"}, "[0].mount_path", "absolute"),
    ({"name": "x", "secret": "s", "mount_path": "/a/../b"}, "[0].mount_path", "absolute"),
    ({"name": "x", "secret": "s", "mount_path": "/"}, "[0].mount_path", "absolute"),
    ({"name": "x", "secret": "s", "mount_path": "/x", "read_only": "yes"}, "[0].read_only", "boolean"),
    ({"name": "x", "secret": "s", "mount_path": "/x", "items": [{"key": "k", "path": "/abs"}]},
     "[0].items[0].path", "relative"),
    ({"name": "x", "secret": "s", "mount_path": "/x", "items": [{"key": "k"}]}, "[0].items[0].path", "required"),
    ({"name": "x", "secret": "s", "mount_path": "/x", "sub_path": "a"}, "[0].sub_path", "unknown key"),
])
def test_a_bad_volume_names_its_field(volume, field, words):
    desc = description()
    desc["profiles"]["small"]["volumes"] = [volume]
    error = error_of(desc)
    assert error.field == "cluster.profiles.small.volumes" + field and words in error.message


def test_volumes_may_not_share_a_name_or_a_path():
    desc = description()
    desc["profiles"]["small"]["volumes"] = [TLS, dict(TLS, mount_path="/other")]
    assert error_of(desc).field == "cluster.profiles.small.volumes[1].name"
    desc["profiles"]["small"]["volumes"] = [TLS, dict(TLS, name="tls-2")]
    assert error_of(desc).field == "cluster.profiles.small.volumes[1].mount_path"


@pytest.mark.parametrize("path", ["/var/pinot/server/data", "/var/pinot/server/config/extra", "/var/pinot",
                                  "/var/pinot/server"])
def test_a_volume_may_not_hide_or_shadow_what_pinotops_mounts(path):
    desc = description()
    desc["profiles"]["hot"]["volumes"] = [dict(TLS, mount_path=path)]
    error = error_of(desc)
    assert error.field == "cluster.node_groups[3].profile.volumes[0].mount_path"
    assert "clashes with /var/pinot/server/" in error.message
    # The same path is fine for another role's directories.
    desc["profiles"]["hot"]["volumes"] = [dict(TLS, mount_path="/var/pinot/controller/data")]
    normalise_cluster(desc)
