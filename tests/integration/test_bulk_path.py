"""The bulk path (`definitions:`) of pinot_schema and pinot_table against the single-object path, on real Pinot:
same results, and no write at all on a no-op."""

import uuid

import pytest

from tests.bench import estate
from tests.support.modules import run_module

pytestmark = pytest.mark.integration

COUNT = 4


def _names(prefix):
    return [f"{prefix}_{i}" for i in range(COUNT)]


def _table(name):
    return estate.table(name, "DefaultTenant")


def _run(pinot, module, **args):
    return run_module(module, dict(args, controller_url=pinot.controller_url))


@pytest.fixture
def prefixes(pinot):
    tag = uuid.uuid4().hex[:6]
    single, bulk = f"s{tag}", f"b{tag}"
    yield single, bulk
    for name in _names(single) + _names(bulk):
        _run(pinot, "pinot_table", name=name, table_type="OFFLINE", state="absent", delete_retention="0d")
        _run(pinot, "pinot_schema", name=name, state="absent")


def _strip(name, paths):
    return [path.replace(name, "<name>") for path in paths]


def test_bulk_matches_single_and_noop_writes_nothing(pinot, prefixes):
    single, bulk = prefixes
    for module, make, option in (("pinot_schema", estate.schema, "schema"), ("pinot_table", _table, "table")):
        singles = [_run(pinot, module, **{option: make(name)}) for name in _names(single)]
        bulk_result = _run(pinot, module, definitions=[make(name) for name in _names(bulk)])
        assert not bulk_result.get("failed"), bulk_result
        assert all(not result.get("failed") for result in singles), singles
        assert bulk_result["changed"] is True
        assert [item["name"] for item in bulk_result["results"]] == _names(bulk)
        for one, item in zip(singles, bulk_result["results"], strict=True):
            assert item["changed"] is one["changed"] is True
            assert item["changes"] == one["changes"]
        # The writes are the single path's, one definition after the other.
        assert _strip(bulk, bulk_result["executed_requests"]) == [
            request for result in singles for request in _strip(single, result["executed_requests"])]

        # No-op: nothing changed, nothing written, on both paths and across them.
        again = _run(pinot, module, definitions=[make(name) for name in _names(bulk)])
        assert again["changed"] is False, again
        assert again["executed_requests"] == []
        assert all(item["changed"] is False and item["changes"] == [] for item in again["results"])
        cross = _run(pinot, module, definitions=[make(name) for name in _names(single)])
        assert cross["changed"] is False and cross["executed_requests"] == [], cross
        for name in _names(bulk):
            one = _run(pinot, module, **{option: make(name)})
            assert one["changed"] is False and one["executed_requests"] == [], one


def test_bulk_check_mode_and_bad_definition_write_nothing(pinot, prefixes):
    _single, bulk = prefixes
    names = _names(bulk)
    checked = run_module("pinot_schema", {"controller_url": pinot.controller_url,
                                          "definitions": [estate.schema(name) for name in names]}, check=True)
    assert checked["changed"] is True and checked["executed_requests"] == [], checked
    definitions = [estate.schema(name) for name in names]
    definitions[2]["dimensionFieldSpecs"][0]["dataType"] = "NOT_A_TYPE"
    failed = _run(pinot, "pinot_schema", definitions=definitions)
    assert failed["failed"] is True
    assert failed["field"].startswith("definitions[2]"), failed
    assert failed["executed_requests"] == []
    assert all(_run(pinot, "pinot_schema_info", name=name).get("schema") is None for name in names)


def test_hybrid_table_halves_in_one_bulk_run(pinot_kafka):
    """The OFFLINE and REALTIME configs of one name are two objects of one bulk run: both created, both a no-op
    after (the x5 estate of `make bench` is 500 such pairs)."""
    pinot = pinot_kafka
    name = f"hy{uuid.uuid4().hex[:6]}"
    pinot.create_kafka_topic(name)
    stream = estate.stream(name, pinot.kafka_bootstrap, pinot.kafka_consumer_factory)
    definitions = [estate.table(name, "DefaultTenant"), estate.realtime_table(name, "DefaultTenant", stream)]
    try:
        assert not _run(pinot, "pinot_schema", schema=estate.schema(name)).get("failed")
        created = _run(pinot, "pinot_table", definitions=definitions)
        assert not created.get("failed"), created
        assert [(item["name"], item["table_type"], item["changed"]) for item in created["results"]] == [
            (name, "OFFLINE", True), (name, "REALTIME", True)]
        assert created["executed_requests"] == ["POST /tables", "POST /tables"]
        assert created["invocation"]["module_args"]["definitions"] == "2 definitions (see results)"
        again = run_module("pinot_table", {"controller_url": pinot.controller_url, "definitions": definitions},
                           diff=True)
        assert again["changed"] is False and again["executed_requests"] == [], again
        twice = _run(pinot, "pinot_table", definitions=[definitions[1], definitions[1]])
        assert twice["failed"] is True and f"names {name} REALTIME more than once" in twice["msg"], twice
    finally:
        for table_type in ("OFFLINE", "REALTIME"):
            _run(pinot, "pinot_table", name=name, table_type=table_type, state="absent", delete_retention="0d")
        _run(pinot, "pinot_schema", name=name, state="absent")
