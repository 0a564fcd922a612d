"""Property-based tests (hypothesis) over every kind of user input (issue 7, "bad input").

For cluster descriptions, schemas, table configs and tenant arguments, generated both from scratch and by
mutating a valid example at a random place:
* no input produces an exception other than SpecError (a traceback is a bug);
* every SpecError names the offending field (non-empty `field`);
* nothing is written for invalid input (the tenant build gets a client that fails the test when touched;
  the validators and the cluster renderer take no client at all).
"""

from __future__ import annotations

import copy
import os
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import render_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import normalise_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import schema as schema_mod
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import table as table_mod
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import tenant as tenant_mod

# PINOTOPS_HYPOTHESIS_EXAMPLES raises the bound for a longer hunt (the suite runs 200 per property).
SETTINGS = settings(max_examples=int(os.environ.get("PINOTOPS_HYPOTHESIS_EXAMPLES", "200")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 40), max_value=2 ** 40),
                    st.floats(allow_nan=True), st.text(max_size=12),
                    st.sampled_from(["", "0", "-1", "a b", "__x", "zone-a", "STRING", "LONG", "OFFLINE", "REALTIME",
                                     "controller", "broker", "server", "minion", "1Gi", "100m", "x" * 70]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(string.ascii_letters + "_.", max_size=10), inner,
                                                 max_size=4)), max_leaves=12)


def paths(obj, prefix=()):
    """Every path (tuple of keys/indexes) inside a JSON-like value, the root included."""
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from paths(value, prefix + (index,))


@st.composite
def mutated(draw, base):
    """`base` with one or two places replaced by an arbitrary value, deleted, or given an extra key."""
    obj = copy.deepcopy(base)
    for _index in range(draw(st.integers(1, 2))):
        where = draw(st.sampled_from(list(paths(obj))))
        if not where:
            return draw(json_values)
        parent = obj
        for step in where[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "extra"]))
        if action == "replace":
            parent[where[-1]] = draw(json_values)
        elif action == "delete":
            if isinstance(parent, dict):
                del parent[where[-1]]
            else:
                parent.pop(where[-1])
        elif isinstance(parent[where[-1]], dict):
            parent[where[-1]][draw(st.text(string.ascii_letters, min_size=1, max_size=8))] = draw(json_values)
    return obj


def assert_clean(call, *args):
    """Either a result or a SpecError naming a field; anything else fails the property."""
    try:
        return call(*args)
    except SpecError as exc:
        assert isinstance(exc.field, str) and exc.field.strip(), f"SpecError without a field: {exc}"
        assert str(exc).strip()
        return None


# -- cluster descriptions ---------------------------------------------------------------------------------

CLUSTER = {
    "name": "pinot", "namespace": "data", "image": "apachepinot/pinot:1.4.0",
    "zookeeper": {"address": "zk:2181/pinot"},
    "pinot": {"controller": {"properties": {"controller.task.scheduler.enabled": True}, "jvm_opts": "-Xmx1g"}},
    "secret_env": [{"name": "PW", "secret": "pinot-auth", "key": "password", "roles": ["controller"]}],
    "deep_store": {"uri": "s3://segments/pinot", "region": "us-east-1", "endpoint": "http://s3.example:9000",
                   "credentials_secret": {"name": "pinot-s3"}},
    "profiles": {"small": {"resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
                           "storage": {"size": "1Gi"},
                           "volumes": [{"name": "tls", "secret": "pinot-tls", "mount_path": "/etc/pinot/tls",
                                        "items": [{"key": "keystore.p12", "path": "keystore.p12"}]}]}},
    "node_groups": [
        {"name": "controller", "role": "controller", "replicas": 3, "zones": ["zone-a", "zone-b"], "profile": "small"},
        {"name": "broker", "role": "broker", "replicas": 1, "zone": "zone-a", "tags": ["DefaultTenant_BROKER"]},
        {"name": "server", "role": "server", "replicas": 2, "profile": "small", "tags": ["hot_OFFLINE"]},
        {"name": "minion", "role": "minion", "replicas": 0},
    ],
}


def test_the_valid_cluster_example_is_accepted():
    render_cluster(normalise_cluster(copy.deepcopy(CLUSTER)), None, None)


@SETTINGS
@given(st.one_of(mutated(CLUSTER), json_values))
def test_cluster_descriptions_fail_only_with_a_named_field(raw):
    cluster = assert_clean(normalise_cluster, raw)
    if cluster is not None:
        # Whatever validation accepts must also render (a renderer traceback would be a validation gap).
        render_cluster(cluster, None, None)


# -- schemas ----------------------------------------------------------------------------------------------

SCHEMA = {
    "schemaName": "events",
    "dimensionFieldSpecs": [{"name": "country", "dataType": "STRING"},
                            {"name": "tags", "dataType": "STRING", "singleValueField": False}],
    "metricFieldSpecs": [{"name": "clicks", "dataType": "LONG", "defaultNullValue": 0}],
    "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:TIMESTAMP",
                            "granularity": "1:MILLISECONDS"}],
    "primaryKeyColumns": ["country"],
}


@SETTINGS
@given(st.one_of(mutated(SCHEMA), json_values), st.one_of(st.none(), st.just("events"), st.text(max_size=6)))
def test_schemas_fail_only_with_a_named_field(raw, name):
    checked = assert_clean(schema_mod.validate_schema, raw, name)
    if checked is not None:
        assert_clean(schema_mod.normalise_schema, checked)


# -- table configs ----------------------------------------------------------------------------------------

TABLE = {
    "tableName": "events", "tableType": "REALTIME",
    "segmentsConfig": {"timeColumnName": "ts", "replication": "1"},
    "tenants": {"broker": "DefaultTenant", "server": "DefaultTenant"},
    "tableIndexConfig": {"loadMode": "MMAP", "streamConfigs": {
        "streamType": "kafka", "stream.kafka.topic.name": "events",
        "stream.kafka.consumer.prop.sasl.jaas.config": "org.apache.kafka...PlainLoginModule required password=x;"}},
    "metadata": {},
}


@SETTINGS
@given(st.one_of(mutated(TABLE), json_values),
       st.one_of(st.none(), st.just("events"), st.just("events_REALTIME"), st.text(max_size=8)),
       st.sampled_from([None, "OFFLINE", "REALTIME"]))
def test_table_configs_fail_only_with_a_named_field(raw, name, table_type):
    checked = assert_clean(table_mod.validate_table, raw, name, table_type)
    if checked is not None:
        assert_clean(table_mod.normalise_table, raw)


# -- tenants ----------------------------------------------------------------------------------------------

class UntouchableClient:
    """Any use (a read or a write) fails the test: building the plan must not talk to Pinot."""

    def __getattr__(self, name):
        raise AssertionError(f"the Pinot client was used ({name}) while building the tenant plan")


counts = st.one_of(st.none(), st.integers(min_value=-3, max_value=5))
tenant_args = st.fixed_dictionaries({
    "name": st.sampled_from(["t1", "DefaultTenant", "hot"]),
    "role": st.sampled_from(["SERVER", "BROKER"]),
    "state": st.sampled_from(["present", "absent"]),
    "instances": st.one_of(st.none(), st.lists(st.sampled_from(["Server_a_1", "Server_b_2", "Broker_c_3"]),
                                               max_size=4)),
    "instance_count": counts, "offline_instances": counts, "realtime_instances": counts,
})


@SETTINGS
@given(tenant_args)
def test_tenant_args_fail_only_with_a_named_field_and_never_touch_pinot(params):
    built = assert_clean(tenant_mod.build, UntouchableClient(), params, False)
    if built is not None:
        _handler, desired = built
        assert desired["numberOfInstances"] >= 0
