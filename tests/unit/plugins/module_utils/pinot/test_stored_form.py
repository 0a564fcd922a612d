"""stored_form: the controller's validate answer as the judge, and unrecognized keys told apart by probing.

The fake controller behaves like Pinot 1.5.1's /schemas/validate (seen on the real server): a key whose value is
the default is serialised away and so listed as unrecognized; an unknown key is listed whatever its value.
"""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import Handler, Plan
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.stored_form import pointer_to_field, stored_form

# Real field properties and the default Pinot drops on output.
DEFAULTS = {"notNull": False, "singleValueField": True}


class FakeValidator:
    def __init__(self, reject=None):
        self.bodies = []
        self.reject = reject or (lambda body: False)

    def validate(self, path, body):
        self.bodies.append(body)
        if self.reject(body):
            raise PinotError("POST", path, 400, "Cannot deserialize value")
        stored, unknown = {"schemaName": body["schemaName"], "dimensionFieldSpecs": []}, {}
        for index, spec in enumerate(body.get("dimensionFieldSpecs", [])):
            kept = {}
            for key, value in spec.items():
                if key in ("name", "dataType") or (key in DEFAULTS and value != DEFAULTS[key]):
                    kept[key] = value
                else:
                    unknown[f"/dimensionFieldSpecs/{index}/{key}"] = value
            stored["dimensionFieldSpecs"].append(kept)
        if "legacy" in body:
            unknown["/segmentsConfig/schemaName"] = body["legacy"]
        return dict(stored, unrecognizedProperties=unknown)


def schema(**spec):
    return {"schemaName": "s", "dimensionFieldSpecs": [dict({"name": "c", "dataType": "STRING"}, **spec)]}


def unwrap(verdict):
    return {k: v for k, v in verdict.items() if k != "unrecognizedProperties"}


def test_default_valued_keys_are_accepted_with_one_probe():
    client = FakeValidator()
    stored, warnings = stored_form(client, "/schemas/validate", schema(notNull=False, singleValueField=True),
                                   "schema", unwrap)
    assert stored["dimensionFieldSpecs"] == [{"name": "c", "dataType": "STRING"}]
    assert warnings == []  # a default written out is correct input: nothing to warn about
    assert len(client.bodies) == 2
    assert client.bodies[1]["dimensionFieldSpecs"][0] == {"name": "c", "dataType": "STRING", "notNull": True,
                                                          "singleValueField": False}


def test_an_unknown_key_is_refused_naming_the_field():
    with pytest.raises(SpecError) as caught:
        stored_form(FakeValidator(), "/schemas/validate", schema(notNull=False, notnul=True), "schema", unwrap)
    assert caught.value.field == "schema.dimensionFieldSpecs[0].notnul"
    assert "silently drop" in caught.value.message


def test_an_unknown_key_with_no_value_to_probe_is_refused():
    with pytest.raises(SpecError, match=r"dimensionFieldSpecs\[0\]\.extra"):
        stored_form(FakeValidator(), "/schemas/validate", schema(extra={"a": 1}), "schema", unwrap)


def test_legacy_keys_warn_and_are_left_out():
    stored, warnings = stored_form(FakeValidator(), "/schemas/validate", dict(schema(), legacy="s"), "schema",
                                   unwrap)
    assert stored["schemaName"] == "s"
    assert warnings == ["schema.segmentsConfig.schemaName is ignored: Pinot 1.x ignores it (the schema is the "
                        "one named like the table); it is left out of the comparison"]


def test_a_probe_the_server_rejects_is_retried_key_by_key():
    # The server refuses the probed value of notNull (so the key is real) but ignores 'typo' whatever its value.
    client = FakeValidator(reject=lambda body: body["dimensionFieldSpecs"][0].get("notNull") is True)
    with pytest.raises(SpecError) as caught:
        stored_form(client, "/schemas/validate", schema(notNull=False, typo="x"), "schema", unwrap)
    assert caught.value.field == "schema.dimensionFieldSpecs[0].typo"
    assert len(client.bodies) == 4  # the request, the joint probe (400), one probe per key


def test_input_the_server_rejects_names_the_object():
    client = FakeValidator(reject=lambda body: True)
    with pytest.raises(SpecError, match="Pinot rejects the schema: Cannot deserialize value"):
        stored_form(client, "/schemas/validate", schema(), "schema", unwrap)


def test_pointer_to_field_unescapes():
    assert pointer_to_field("/a~1b/0/c~0d", "table") == "table.a/b[0].c~d"


class StoredFormHandler(Handler):
    """Live object stored by the server in a form local normalisation does not know."""

    def __init__(self, live, stored):
        super().__init__(client=None, name="s")
        self.live, self.stored, self.writes = live, stored, []

    def read(self):
        return self.live

    def validate_with_server(self, desired, live):
        return self.stored

    def update(self, desired, live):
        self.writes.append(desired)


def test_the_server_form_decides_when_the_local_forms_differ():
    desired = {"format": "1:MILLISECONDS:TIMESTAMP"}
    handler = StoredFormHandler(live={"format": "TIMESTAMP"}, stored={"format": "TIMESTAMP"})
    plan = Plan(handler, desired, "present").read()
    assert plan.changed  # locally different ...
    plan.check()
    assert not plan.changed  # ... but Pinot would store exactly what it has
    result = plan.apply(check_mode=False)
    assert result["changed"] is False and handler.writes == []


def test_a_real_difference_still_writes():
    handler = StoredFormHandler(live={"format": "TIMESTAMP"}, stored={"format": "EPOCH"})
    plan = Plan(handler, {"format": "EPOCH"}, "present").read()
    plan.check()
    assert plan.changed
    assert plan.apply(check_mode=True)["after"] == {"format": "EPOCH"}
    assert handler.writes == []


class CreatingHandler(StoredFormHandler):
    """The write adds a value validate does not show (like a dimension table's storage quota)."""

    def read(self):
        return self.live

    def create(self, desired):
        self.live = dict(desired, quota="200M")

    def as_stored(self, stored, live):
        return dict(stored, quota=live["quota"]) if live and "quota" in live else stored


def test_what_the_write_adds_is_expected_not_warned_about():
    handler = CreatingHandler(live=None, stored={"isDimTable": True})
    plan = Plan(handler, {"isDimTable": True}, "present").read()
    plan.check()
    result = plan.apply(check_mode=False)
    assert result["changed"] is True and result["warnings"] == []
    again = Plan(handler, {"isDimTable": True}, "present").read()
    again.check()
    assert again.changed is False


class LocallyEqualHandler(StoredFormHandler):
    def validate_with_server(self, desired, live):
        raise AssertionError("an object that matches locally must not be validated")


def test_an_object_that_matches_locally_costs_no_validate():
    handler = LocallyEqualHandler(live={"a": 1}, stored=None)
    plan = Plan(handler, {"a": 1}, "present").read()
    plan.check()
    assert plan.apply(check_mode=False)["changed"] is False
