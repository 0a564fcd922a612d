"""YAML the collection keeps generated from one source, so that what ansible-doc shows and what Ansible checks cannot
drift apart. `make generated-docs` rewrites each block between its markers; tests/unit/test_generated_docs.py fails
when one is stale.

- The roles' `pinot_cluster` argument spec, from the `cluster` doc fragment (the description's fields): so
  `ansible-doc -t role` and the roles' argument validation show and check the same fields as the modules.
- The `pinot` option of the `pinot.NESTED` doc fragment (the controller connection as suboptions, for the modules
  whose own connection options are Kubernetes'), from the fragment's own connection options, references to them
  rewritten to `O(pinot.<option>)`.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.examples import REPO

FRAGMENTS = REPO / "plugins" / "doc_fragments"
ROLES = ("pinot_cluster", "pinot_upgrade")
END = "# END generated\n"


def fragment_documentation(fragment: str, variable: str = "DOCUMENTATION") -> dict:
    """A doc fragment's YAML, read without importing Ansible's plugin loader."""
    tree = ast.parse((FRAGMENTS / f"{fragment}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == variable for t in node.targets):
            return yaml.safe_load(ast.literal_eval(node.value))
    raise AssertionError(f"plugins/doc_fragments/{fragment}.py has no {variable}")


def cluster_documentation() -> dict:
    """The `cluster` option as the doc fragment documents it."""
    return fragment_documentation("cluster")["options"]["cluster"]


def as_role_options(suboptions: dict) -> dict:
    """A module's suboptions in a role argument spec's spelling: nested fields are `options`."""
    result = {}
    for name, spec in suboptions.items():
        spec = dict(spec)
        if "suboptions" in spec:
            spec["options"] = as_role_options(spec.pop("suboptions"))
        result[name] = spec
    return result


def role_cluster_options() -> dict:
    return {"options": as_role_options(cluster_documentation()["suboptions"])}


def nested_connection_options() -> dict:
    options = fragment_documentation("pinot")["options"]
    reference = re.compile(r"O\((" + "|".join(map(re.escape, options)) + r")([=)])")

    def nested(value: Any) -> Any:
        if isinstance(value, str):
            return reference.sub(r"O(pinot.\1\2", value)
        if isinstance(value, list):
            return [nested(item) for item in value]
        if isinstance(value, dict):
            return {key: nested(item) for key, item in value.items()}
        return value

    return nested(options)


class _BlockDumper(yaml.SafeDumper):
    """Indented sequences (the files' style, yamllint `indent-sequences: consistent`), no anchors."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data):
        return True


@dataclass(frozen=True)
class Block:
    path: Path
    begin: str  # the marker line, without its indentation
    indent: int
    render: Callable[[], dict]

    def rendered(self) -> str:
        # Lines of at most 120 characters once indented (the emitter breaks at a space past its width).
        text = yaml.dump(self.render(), Dumper=_BlockDumper, sort_keys=False, width=112 - self.indent,
                         allow_unicode=True)
        pad = " " * self.indent
        return pad + self.begin + "".join(pad + line if line.strip() else line
                                          for line in text.splitlines(True)) + pad + END

    def applied(self, text: str) -> str:
        """`text` with its generated block replaced by the current one."""
        start, stop = text.find(self.begin), text.find(END)
        if start < 0 or stop < 0:
            raise AssertionError(f"{self.path.relative_to(REPO)}: the markers {self.begin.strip()!r} and "
                                 f"{END.strip()!r} are missing")
        start = text.rfind("\n", 0, start) + 1
        return text[:start] + self.rendered() + text[stop + len(END):]


BLOCKS = [
    *(Block(REPO / "roles" / role / "meta" / "argument_specs.yml",
            "# BEGIN generated from plugins/doc_fragments/cluster.py by `make generated-docs`\n", 8,
            role_cluster_options) for role in ROLES),
    Block(FRAGMENTS / "pinot.py", "# BEGIN generated from DOCUMENTATION above by `make generated-docs`\n", 6,
          nested_connection_options),
]


def main() -> int:
    for block in BLOCKS:
        block.path.write_text(block.applied(block.path.read_text()))
        print(f"generated-docs: wrote {block.path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
