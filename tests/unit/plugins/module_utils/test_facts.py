"""Each fact of plugins/module_utils/facts.py is written once. A port of ROLE_PORTS or ZOOKEEPER_PORTS, a Helix
instance prefix, a tenant tag or table type suffix, a label or annotation key, a part of an object's name or
pinotops' field manager written anywhere else in plugins/ fails here, naming the file and line; so does an object
name built by hand (`f"{cluster['name']}-{group}"`). Documentation may show them: docstrings, comments,
DOCUMENTATION/EXAMPLES/RETURN and the doc fragments are not read. And the facts agree with each other."""

import ast
import re
from pathlib import Path

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils import facts
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster import render

PLUGINS = Path(__file__).resolve().parents[4] / "plugins"
FACTS = PLUGINS / "module_utils" / "facts.py"
DOC_NAMES = {"DOCUMENTATION", "EXAMPLES", "RETURN"}

PORTS = {number for ports in facts.ROLE_PORTS.values() for _name, number, _prop, _client in ports}
PORTS |= set(facts.ZOOKEEPER_PORTS.values())
_WORD = "A-Za-z0-9"
# (what, pattern) for the facts that show in a string: inside a message as much as alone.
WRITTEN = [
    ("a port of facts.ROLE_PORTS or ZOOKEEPER_PORTS", re.compile(
        rf"(?<![{_WORD}.])({'|'.join(str(port) for port in sorted(PORTS))})(?![{_WORD}])")),
    ("a Helix instance prefix (facts.INSTANCE_PREFIX)", re.compile(
        rf"(?<![{_WORD}])({'|'.join(map(re.escape, facts.INSTANCE_PREFIX.values()))})")),
    ("a tag or table type suffix (facts.TYPE_SUFFIX, BROKER_TAG_SUFFIX)", re.compile(
        rf"({'|'.join(map(re.escape, (*facts.SERVER_TAG_SUFFIXES, facts.BROKER_TAG_SUFFIX)))})(?!\w)")),
    ("a label or annotation key (facts.LABEL_*, ANNOTATION_*, RESERVED_LABEL_PREFIXES)", re.compile(
        "|".join(map(re.escape, (*facts.RESERVED_LABEL_PREFIXES, facts.ZONE_LABEL, facts.REVISION_LABEL))))),
    ("a part of an object's name (facts.headless_service_name, config_map_name, service_host)", re.compile(
        r"-headless\b|-config-|\.svc\.cluster\.local")),
    ("pinotops' field manager (facts.FIELD_MANAGER)", re.compile(rf"^{re.escape(facts.FIELD_MANAGER)}$")),
]
# Written again where this branch may not change the line: (file under plugins/, text) -> why. Each must still be
# found (test_every_exception_is_still_needed), so that it goes once the line is fixed.
EXCEPTIONS: dict = {}


def documentation(tree):
    """The string nodes that document: docstrings, and the values of DOCUMENTATION, EXAMPLES and RETURN."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in DOC_NAMES
                                                  for t in node.targets):
            found.update(id(sub) for sub in ast.walk(node.value))
    return found


def _names_object(value):
    """Whether an f-string part is `{<something>['name']}`: a cluster's or an object's name."""
    return isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Subscript) \
        and isinstance(value.value.slice, ast.Constant) and value.value.slice.value == "name"


def written_again(path):
    """[(line, what, text)] of the facts `path` writes itself."""
    tree = ast.parse(path.read_text())
    skip = documentation(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            for value, after in zip(node.values, node.values[1:], strict=False):
                if _names_object(value) and isinstance(after, ast.Constant) and str(after.value).startswith("-"):
                    found.append((node.lineno, "an object name built by hand (facts.sts_name, pod_name, ...)",
                                  ast.unparse(node)))
        if not isinstance(node, ast.Constant) or id(node) in skip:
            continue
        if isinstance(node.value, int) and not isinstance(node.value, bool) and node.value in PORTS:
            found.append((node.lineno, WRITTEN[0][0], str(node.value)))
        elif isinstance(node.value, str):
            found.extend((node.lineno, what, node.value) for what, pattern in WRITTEN if pattern.search(node.value))
    return found


def sources():
    return sorted(path for path in PLUGINS.rglob("*.py")
                  if path != FACTS and "doc_fragments" not in path.relative_to(PLUGINS).parts)


@pytest.mark.parametrize("path", sources(), ids=lambda path: str(path.relative_to(PLUGINS)))
def test_a_fact_is_written_only_in_facts_py(path):
    relative = str(path.relative_to(PLUGINS))
    found = [f"{relative}:{line}: {what}: {text!r}" for line, what, text in written_again(path)
             if not any(relative == where and key in text for where, key in EXCEPTIONS)]
    assert not found, "import it from module_utils/facts.py instead:\n" + "\n".join(found)


def test_every_exception_is_still_needed():
    for (relative, text), why in EXCEPTIONS.items():
        assert any(text in found for _line, _what, found in written_again(PLUGINS / relative)), \
            f"{relative} no longer writes {text!r}: remove its exception ({why})"


def test_the_checks_find_what_they_look_for(tmp_path):
    """The checks themselves: each kind of fact is found written again, documentation is not read."""
    sample = tmp_path / "sample.py"
    sample.write_text('''"""Docstring: Server_x_8098 and hot_OFFLINE are fine here."""
DOCUMENTATION = "app.kubernetes.io/name: fine in documentation"
PORT = 8098
PREFIX = "Broker_"
TAG = f"{tenant}_REALTIME"
MESSAGE = f"broker tags end with _BROKER (e.g. {tag}_BROKER)"
KEY = "pinotops.io/node-group"
HEADLESS = f"{name}-headless"
MANAGER = "pinotops.k8s"
NAME = f"{cluster['name']}-{group}"
HOST = f"{host}:2181"
NOT_A_FACT = ("pinotops.k8s upgrade", "ServerInstances", "DefaultTenant_OFFLINE_x", 80980, "v8098")
''')
    lines = sorted({line for line, _what, _text in written_again(sample)})
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10, 11]


def test_render_asks_each_role_on_its_own_ports():
    assert render.HEALTH is facts.HEALTH
    for role in facts.ROLES:
        ports = {name: number for name, number, _prop, _client in facts.ROLE_PORTS[role]}
        assert {port for _path, port in facts.HEALTH[role].values()} <= set(ports.values())
    # The numbers themselves, as Pinot serves them (CommonConstants; a server's health resource is on its admin port).
    assert {role: sorted({port for _path, port in probes.values()}) for role, probes in facts.HEALTH.items()} == \
        {"controller": [9000], "broker": [8099], "server": [8097], "minion": [9514]}
    assert facts.HEALTH["server"] == {"startup": ("/health/liveness", 8097), "readiness": ("/health/readiness", 8097),
                                      "liveness": ("/health/liveness", 8097)}


def test_instance_ids_start_with_the_helix_prefix_and_end_with_the_first_port():
    assert facts.instance_id("server", "pinot-server-0", "pinot-server-headless", "analytics") == \
        "Server_pinot-server-0.pinot-server-headless.analytics.svc.cluster.local_8098"
    assert facts.instance_id("controller", "p-0", "p-headless", "ns") == \
        "Controller_p-0.p-headless.ns.svc.cluster.local_9000"
    assert facts.instance_id("zookeeper", "p-0", "p-headless", "ns") is None
    assert set(facts.INSTANCE_PREFIX) == set(facts.ROLES) == set(facts.ROLE_PORTS)


def test_tags_and_table_names_share_the_type_suffixes():
    assert facts.SERVER_TAG_SUFFIXES == ("_OFFLINE", "_REALTIME")
    assert facts.TYPE_SUFFIX == {"OFFLINE": "_OFFLINE", "REALTIME": "_REALTIME"}
    assert facts.BROKER_TAG_SUFFIX == "_BROKER"


def test_label_keys_are_under_the_reserved_prefixes():
    keys = [value for name, value in vars(facts).items() if name.startswith(("LABEL_", "ANNOTATION_"))]
    assert len(keys) == 9
    assert all(key.startswith(facts.RESERVED_LABEL_PREFIXES) for key in keys)


def test_object_names():
    sts = facts.sts_name("pinot", "server-hot-a")
    assert sts == "pinot-server-hot-a"
    assert facts.pod_name(sts, 2) == "pinot-server-hot-a-2"
    assert facts.headless_service_name(sts) == "pinot-server-hot-a-headless"
    assert facts.client_service_name("pinot", "broker") == "pinot-broker"
    assert re.fullmatch(r"pinot-server-hot-a-config-[0-9a-f]{10}", facts.config_map_name(sts, {"a": "b"}))
    assert facts.service_host("pinot-broker", "analytics") == "pinot-broker.analytics.svc.cluster.local"


@pytest.mark.parametrize(("image", "tag"), [
    ("apachepinot/pinot:1.4.0", "1.4.0"),
    ("pinot:1.4.0@sha256:abc", "1.4.0"),
    ("registry:5000/pinot", None),  # a registry's port is not a tag
    ("registry:5000/team/pinot:1.5.1", "1.5.1"),
    ("x/2024pinot", None),
    ("pinot:", ""),
    ("", None),
    (None, None),
])
def test_image_tag(image, tag):
    assert facts.image_tag(image) == tag


def test_the_default_order_is_every_role():
    assert facts.DEFAULT_ORDER == facts.ROLES == ("controller", "broker", "server", "minion")
