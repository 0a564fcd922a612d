"""The roles' `pinot_cluster` argument spec, generated from pinot_cluster's DOCUMENTATION (its `cluster` option):
one source for the description's fields, so `ansible-doc -t role` and the roles' argument validation show and
check the same fields as the module. `make role-specs` rewrites the generated block;
tests/unit/test_cluster_options.py fails when a role's block is not what this renders."""

from __future__ import annotations

import ast
import sys

import yaml

from tests.support.examples import REPO

ROLES = ("pinot_cluster", "pinot_upgrade")
BEGIN = "# BEGIN generated from the cluster option of plugins/modules/pinot_cluster.py by `make role-specs`\n"
END = "# END generated\n"
INDENT = " " * 8  # under `options:` of the `pinot_cluster` variable


def module_documentation(module: str = "pinot_cluster") -> dict:
    tree = ast.parse((REPO / "plugins" / "modules" / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(ast.literal_eval(node.value))
    raise AssertionError(f"{module} has no DOCUMENTATION")


def as_role_options(suboptions: dict) -> dict:
    """A module's suboptions in a role argument spec's spelling: nested fields are `options`."""
    result = {}
    for name, spec in suboptions.items():
        spec = dict(spec)
        if "suboptions" in spec:
            spec["options"] = as_role_options(spec.pop("suboptions"))
        result[name] = spec
    return result


class _BlockDumper(yaml.SafeDumper):
    """Indented sequences (the files' style, yamllint `indent-sequences: consistent`), no anchors."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data):
        return True


def rendered_block() -> str:
    options = as_role_options(module_documentation()["options"]["cluster"]["suboptions"])
    text = yaml.dump({"options": options}, Dumper=_BlockDumper, sort_keys=False, width=110, allow_unicode=True)
    return BEGIN.rjust(len(BEGIN) + len(INDENT)) + "".join(INDENT + line if line.strip() else line
                                                           for line in text.splitlines(True)) + INDENT + END


def with_block(text: str) -> str:
    """`text` (a role's argument_specs.yml) with its generated block replaced by the current one."""
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < 0:
        raise AssertionError(f"the markers {BEGIN.strip()!r} and {END.strip()!r} are missing")
    start = text.rfind("\n", 0, start) + 1
    stop += len(END)
    return text[:start] + rendered_block() + text[stop:]


def role_spec_path(role: str):
    return REPO / "roles" / role / "meta" / "argument_specs.yml"


def main() -> int:
    for role in ROLES:
        path = role_spec_path(role)
        path.write_text(with_block(path.read_text()))
        print(f"role-specs: wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
