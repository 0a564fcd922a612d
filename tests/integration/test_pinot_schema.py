"""pinot_schema and pinot_schema_info against the real Pinot controller of each tested version."""

import copy
import uuid

import pytest
import yaml

from tests.support.modules import run_module

pytestmark = pytest.mark.integration


@pytest.fixture
def schema_name():
    return "s_" + uuid.uuid4().hex[:8]


def make_schema(name):
    return {
        "schemaName": name,
        "dimensionFieldSpecs": [{"name": "country", "dataType": "STRING"},
                                {"name": "tags", "dataType": "STRING", "singleValueField": False}],
        "metricFieldSpecs": [{"name": "clicks", "dataType": "LONG", "defaultNullValue": 0}],
        "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:TIMESTAMP",
                                "granularity": "1:MILLISECONDS"}],
    }


def schema_module(pinot, **args):
    check = args.pop("check", False)
    return run_module("pinot_schema", dict(controller_url=pinot.controller_url, **args), check=check, diff=True)


def live_schema(pinot, name):
    return run_module("pinot_schema_info", {"controller_url": pinot.controller_url, "name": name})["schema"]


@pytest.mark.every_version
def test_create_then_noop_then_update_then_delete(pinot, schema_name):
    desired = make_schema(schema_name)

    predicted = schema_module(pinot, schema=desired, check=True)
    assert predicted["changed"] is True
    assert predicted["executed_requests"] == []
    assert live_schema(pinot, schema_name) is None

    created = schema_module(pinot, schema=desired)
    assert created["changed"] is True
    assert created["executed_requests"] == ["POST /schemas?override=false"]
    assert created["schema"]["schemaName"] == schema_name
    assert created.get("warnings") is None

    again = schema_module(pinot, schema=desired)
    assert again["changed"] is False
    assert again["executed_requests"] == []

    grown = copy.deepcopy(desired)
    grown["dimensionFieldSpecs"].append({"name": "city", "dataType": "STRING", "defaultNullValue": "unknown"})
    predicted = schema_module(pinot, schema=grown, check=True)
    assert predicted["changed"] is True
    assert predicted["executed_requests"] == []
    assert predicted["changes"] == ["dimensionFieldSpecs"]
    after_names = [spec["name"] for spec in predicted["diff"]["after"]["dimensionFieldSpecs"]]
    before_names = [spec["name"] for spec in predicted["diff"]["before"]["dimensionFieldSpecs"]]
    assert (before_names, after_names) == (["country", "tags"], ["city", "country", "tags"])
    assert "city" not in {spec["name"] for spec in live_schema(pinot, schema_name)["dimensionFieldSpecs"]}

    updated = schema_module(pinot, schema=grown)
    assert updated["changed"] is True
    assert updated["executed_requests"] == [f"PUT /schemas/{schema_name}?reload=false"]
    assert schema_module(pinot, schema=grown)["executed_requests"] == []

    deleted = schema_module(pinot, name=schema_name, state="absent")
    assert deleted["changed"] is True
    assert deleted["executed_requests"] == [f"DELETE /schemas/{schema_name}"]
    gone = schema_module(pinot, name=schema_name, state="absent")
    assert (gone["changed"], gone["executed_requests"]) == (False, [])


def test_incompatible_change_needs_force(pinot, schema_name):
    desired = make_schema(schema_name)
    schema_module(pinot, schema=desired)
    shrunk = copy.deepcopy(desired)
    shrunk["dimensionFieldSpecs"] = shrunk["dimensionFieldSpecs"][:1]
    shrunk["metricFieldSpecs"][0]["dataType"] = "DOUBLE"

    for check in (True, False):
        refused = schema_module(pinot, schema=shrunk, check=check)
        assert refused["failed"] is True
        assert "column 'tags' removed" in refused["msg"]
        assert "column 'clicks' dataType LONG -> DOUBLE" in refused["msg"]
        assert refused["executed_requests"] == []
    assert len(live_schema(pinot, schema_name)["dimensionFieldSpecs"]) == 2

    forced = schema_module(pinot, schema=shrunk, force=True)
    if pinot.version.startswith("0."):
        # Before 1.0 Pinot has no force at all: the module relays Pinot's refusal and says why.
        assert forced["failed"] is True
        assert "Backward incompatible schema" in forced["msg"]
        assert "cannot force" in forced["msg"]
        assert len(live_schema(pinot, schema_name)["dimensionFieldSpecs"]) == 2
        return
    assert forced["changed"] is True
    assert forced["executed_requests"][0] == f"PUT /schemas/{schema_name}?reload=false&force=true"
    assert schema_module(pinot, schema=shrunk, force=True)["changed"] is False


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda s: s["dimensionFieldSpecs"][0].update(colour="red"), "schema.dimensionFieldSpecs[0].colour"),
    (lambda s: s.update(retention="30d"), "schema.retention"),
    (lambda s: s["metricFieldSpecs"][0].update(dataType="NUMBER"), "schema.metricFieldSpecs[0].dataType"),
])
def test_bad_input_names_the_field_and_writes_nothing(pinot, schema_name, mutate, field):
    desired = make_schema(schema_name)
    mutate(desired)
    result = schema_module(pinot, schema=desired)
    assert result["failed"] is True
    assert result["msg"].startswith(field)
    assert result["executed_requests"] == []
    assert live_schema(pinot, schema_name) is None


def test_name_must_match_definition(pinot, schema_name):
    result = schema_module(pinot, name="other", schema=make_schema(schema_name))
    assert result["failed"] is True
    assert result["field"] == "name"


def test_src_file_yaml(pinot, schema_name, tmp_path):
    src = tmp_path / "schema.yml"
    src.write_text(yaml.safe_dump(make_schema(schema_name)))
    assert schema_module(pinot, src=str(src))["changed"] is True
    assert schema_module(pinot, src=str(src))["changed"] is False
    broken = tmp_path / "broken.json"
    broken.write_text("{not json: [")
    failed = schema_module(pinot, src=str(broken))
    assert failed["failed"] is True
    assert failed["field"] == "src"
