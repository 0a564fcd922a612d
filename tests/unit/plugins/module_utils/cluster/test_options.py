"""The description's fields are written down in four places that must agree: the validator (spec.py), the
argument spec Ansible checks (options.py), the cluster doc fragment (what ansible-doc shows; the roles'
argument specs are generated from it) and docs/cluster-description.md (the narrative reference)."""

import re

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster import spec as cluster_spec
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.options import CLUSTER_OPTIONS
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import without_unset
from tests.support.examples import REPO
from tests.support.generated_docs import cluster_documentation

DOC_SUBOPTIONS = cluster_documentation()["suboptions"]


def spec_tree(options, nested="options"):
    """{field: (type, elements, subtree)} of an argument spec or of DOCUMENTATION (nested under `suboptions`)."""
    return {name: (spec.get("type", "str"), spec.get("elements"),
                   spec_tree(spec[nested], nested) if spec.get(nested) else None)
            for name, spec in options.items()}


def leaves(tree, prefix=""):
    """Dotted paths of the fields that have no fields of their own."""
    for name, (_type, _elements, sub) in tree.items():
        if sub:
            yield from leaves(sub, f"{prefix}{name}.")
        else:
            yield prefix + name


def test_the_documentation_describes_the_argument_spec():
    assert spec_tree(DOC_SUBOPTIONS, "suboptions") == spec_tree(CLUSTER_OPTIONS)
    undocumented = [path for path, text in descriptions(DOC_SUBOPTIONS) if not text]
    assert not undocumented


def descriptions(options, prefix=""):
    for name, spec in options.items():
        yield prefix + name, spec.get("description")
        yield from descriptions(spec.get("suboptions") or {}, f"{prefix}{name}.")


def test_the_argument_spec_accepts_exactly_what_the_validator_does():
    tree = spec_tree(CLUSTER_OPTIONS)
    assert list(tree) == list(cluster_spec.CLUSTER_KEYS)
    assert list(tree["node_groups"][2]) == list(cluster_spec.GROUP_KEYS)
    assert list(tree["pinot"][2]) == list(cluster_spec.ROLES)


def doc_tables():
    """{section heading: [field, ...]} of the field tables of docs/cluster-description.md."""
    tables, heading = {}, None
    for line in (REPO / "docs" / "cluster-description.md").read_text().splitlines():
        if line.startswith("## "):
            heading = line[3:]
        elif line.startswith("| `") and heading:
            cell = line.split("|")[1]
            tables.setdefault(heading, []).extend(re.findall(r"`([a-z_.]+)`", cell))
    return tables


def test_the_reference_page_names_every_field():
    tables, tree = doc_tables(), spec_tree(CLUSTER_OPTIONS)
    assert tables["Top level"] == list(tree)
    assert tables["`zookeeper`"] == list(leaves(tree["zookeeper"][2]))
    assert tables["`pinot.<role>` and `node_groups[].pinot`"] == list(tree["pinot"][2]["controller"][2])
    assert tables["`secret_env`: credentials never in a ConfigMap"] == list(tree["secret_env"][2])
    assert tables["`node_groups[]`"] == list(tree["node_groups"][2])
    # Profiles are free-form for Ansible; the page, the option's text and the validator agree on their fields.
    profile_fields = tables["`profiles` and `node_groups[].overrides`"]
    assert sorted({field.split(".")[0] for field in profile_fields}) == sorted(cluster_spec.PROFILE_KEYS)
    overrides = DOC_SUBOPTIONS["node_groups"]["suboptions"]["overrides"]
    for option, spec in (("profiles", DOC_SUBOPTIONS["profiles"]), ("node_groups.overrides", overrides)):
        text = " ".join(spec["description"]) if isinstance(spec["description"], list) else spec["description"]
        missing = [field for field in profile_fields if f"C({field})" not in text]
        assert not missing, (option, missing)


def test_fields_ansible_filled_in_are_dropped_and_free_form_values_kept():
    given = {"name": "pinot", "image_pull_secrets": None, "zookeeper": {"address": "zk:2181", "managed": None},
             "profiles": {"small": {"env": {"EMPTY": None}}},
             "node_groups": [{"name": "broker", "role": "broker", "replicas": None, "tags": None,
                              "overrides": {"node_selector": None}, "pinot": None}]}
    assert without_unset(given, CLUSTER_OPTIONS) == {
        "name": "pinot", "zookeeper": {"address": "zk:2181"}, "profiles": {"small": {"env": {"EMPTY": None}}},
        "node_groups": [{"name": "broker", "role": "broker", "overrides": {"node_selector": None}}]}
