"""The README's user quick start names only what exists, and a checkout finds the collection without `make`.

Every `ansible-playbook` command of the "Quick start (users)" section names a playbook of playbooks/ (by path, or
by its `pinotops.k8s.` name) and an inventory that exists when it is a path of the checkout; every inventory
variable it shows (its YAML blocks, and the `pinot_*` names in its text) is one the roles take: an option of
roles/*/meta/argument_specs.yml, down to the fields of the `pinot_cluster` description, or a shared `pinot_*`
variable a role's defaults read. The repository's ansible.cfg makes `ansible-playbook -i playbooks/inventory
playbooks/site.yml` work from the checkout: its collections path resolves to this checkout as
ansible_collections/pinotops/k8s.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## Quick start (users)"
FQCN = "pinotops.k8s."
# ansible-playbook options that take a value (the value is not a playbook).
VALUED_OPTIONS = {"-i", "--inventory", "-e", "--extra-vars", "-l", "--limit", "-t", "--tags", "--skip-tags", "-u",
                  "--user", "-f", "--forks", "--vault-id", "--vault-password-file", "-c", "--connection",
                  "-M", "--module-path", "--start-at-task", "-T", "--timeout", "--private-key", "--key-file"}
CODE_BLOCK = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")


def quick_start(text: str) -> str:
    """The README's quick start: from its heading to the next heading of the same level."""
    assert SECTION in text, f"README.md has no '{SECTION}' section"
    body = text.split(SECTION, 1)[1]
    return body.split("\n## ", 1)[0]


def code_blocks(section: str, language: str) -> list[str]:
    return [textwrap.dedent(body) for lang, body in CODE_BLOCK.findall(section) if lang == language]


def playbook_commands(section: str) -> list[list[str]]:
    """Each `ansible-playbook ...` command of the section (code blocks and inline code), as words."""
    lines = [line for body in code_blocks(section, "sh") for line in body.splitlines()]
    lines += INLINE_CODE.findall(CODE_BLOCK.sub("", section))
    commands = []
    for line in lines:
        line = line.split(" #", 1)[0].strip()
        if line.startswith("#") or "ansible-playbook " not in line:
            continue
        words = shlex.split(line[line.index("ansible-playbook "):])
        commands.append(words)
    return commands


def playbook_problems(command: list[str], root: Path = ROOT) -> list[str]:
    """What a command names that does not exist: playbooks, and inventories given as checkout paths."""
    problems, playbooks = [], []
    words = iter(command[1:])
    for word in words:
        if word in VALUED_OPTIONS:
            value = next(words, "")
            if word in ("-i", "--inventory") and value.startswith("playbooks/") and not (root / value).exists():
                problems.append(f"inventory {value}: no such path")
        elif not word.startswith("-"):
            playbooks.append(word)
    if not playbooks:
        problems.append(f"{shlex.join(command)}: names no playbook")
    for playbook in playbooks:
        if playbook.startswith(FQCN):
            path = root / "playbooks" / f"{playbook.removeprefix(FQCN)}.yml"
        else:
            path = root / playbook
        if not path.is_file():
            problems.append(f"playbook {playbook}: no {path.relative_to(root)}")
    return problems


def argument_specs(root: Path = ROOT) -> dict:
    """Every role's top-level options, all entry points merged (the same variable has the same spec)."""
    options: dict = {}
    for path in sorted(root.glob("roles/*/meta/argument_specs.yml")):
        for entry in yaml.safe_load(path.read_text())["argument_specs"].values():
            options.update(entry.get("options") or {})
    return options


def shared_variables(root: Path = ROOT) -> set[str]:
    """The inventory-wide `pinot_*` variables the roles' defaults read (`pinot_kubeconfig | default(...)`)."""
    found = set()
    for path in root.glob("roles/*/defaults/main.yml"):
        found |= set(re.findall(r"\b(pinot_[a-z0-9_]+)\s*\|\s*default\b", path.read_text()))
    return found


def known_variables(root: Path = ROOT) -> set[str]:
    return set(argument_specs(root)) | shared_variables(root)


def field_problems(value, spec: dict, path: str) -> list[str]:
    """Keys of `value` that `spec` (an argument spec option) does not declare, recursively."""
    options = spec.get("options")
    if not options:  # free-form (type raw, or a dict of user-chosen names such as profiles)
        return []
    if spec.get("type") == "list":
        return [problem for i, item in enumerate(value or []) if isinstance(item, dict)
                for problem in field_problems(item, {"options": options}, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return []
    problems = []
    for key, item in value.items():
        if key not in options:
            problems.append(f"{path}.{key}: not a field of {path} (roles/*/meta/argument_specs.yml)")
        else:
            problems += field_problems(item, options[key], f"{path}.{key}")
    return problems


def group_names(root: Path = ROOT) -> set[str]:
    return {play["hosts"] for path in (root / "playbooks").glob("*.yml")
            for play in yaml.safe_load(path.read_text()) or [] if isinstance(play.get("hosts"), str)}


def inventory_problems(section: str, root: Path = ROOT) -> list[str]:
    """Variables of the section's YAML blocks and text that no role takes."""
    specs, known, groups = argument_specs(root), known_variables(root), group_names(root)
    problems = []
    for block in code_blocks(section, "yaml"):
        data = yaml.safe_load(block)
        if not isinstance(data, dict):
            continue
        if all(isinstance(value, dict) and {"hosts", "children"} & set(value) for value in data.values()):
            # An inventory file: its groups are the playbooks' groups, its group vars are variables.
            for group, body in data.items():
                if group not in groups:
                    problems.append(f"group {group}: no playbook runs on it ({', '.join(sorted(groups))})")
                for name in body.get("vars") or {}:
                    if not name.startswith("ansible_") and name not in known:
                        problems.append(f"variable {name}: no role takes it")
            continue
        for name, value in data.items():
            if name.startswith("ansible_"):
                continue
            if name not in known:
                problems.append(f"variable {name}: no role takes it")
            elif name in specs:
                problems += field_problems(value, specs[name], name)
    roles = {path.name for path in (root / "roles").iterdir()}
    modules = {path.stem for path in (root / "plugins" / "modules").glob("*.py")}
    for name in set(re.findall(r"`(pinot_[a-z0-9_]+)`", CODE_BLOCK.sub("", section))):
        if name not in known | groups | roles | modules:
            problems.append(f"`{name}`: neither a variable a role takes, a group, a role nor a module")
    return problems


# --------------------------------------------------------------------------- the README itself


def test_the_readme_opens_with_the_two_commands_then_the_quick_start_then_developing():
    text = README.read_text()
    first_block = CODE_BLOCK.search(text)
    assert first_block and text.index(first_block.group(0)) < text.index("\n## ")
    assert [line.split("#")[0].strip() for line in first_block.group(2).splitlines()] == ["make demo", "make test"]
    headings = re.findall(r"^## .*", text, re.MULTILINE)
    assert headings[:2] == [SECTION, "## Developing"], headings[:3]
    developing = text.split("## Developing", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in developing and "make test" in developing and "make prerequisites" in developing


def test_the_quick_start_runs_the_three_playbooks_by_their_collection_names():
    commands = playbook_commands(quick_start(README.read_text()))
    named = {word for command in commands for word in command if word.startswith(FQCN)}
    assert {f"{FQCN}site", f"{FQCN}upgrade", f"{FQCN}reconcile"} <= named, commands
    drift = [command for command in commands if f"{FQCN}reconcile" in command and "--check" in command]
    assert drift and all("--diff" in command for command in drift), "the drift report is reconcile --check --diff"


def test_every_playbook_the_quick_start_runs_exists():
    commands = playbook_commands(quick_start(README.read_text()))
    assert commands
    assert [problem for command in commands for problem in playbook_problems(command)] == []


def test_every_variable_the_quick_start_shows_is_one_a_role_takes():
    section = quick_start(README.read_text())
    assert code_blocks(section, "yaml"), "the quick start shows an inventory"
    assert inventory_problems(section) == []


def test_the_checks_fail_on_what_does_not_exist():
    section = (
        "```sh\nansible-playbook pinotops.k8s.sitee -i inventory\n```\n"
        "`ansible-playbook -i playbooks/inventry playbooks/sites.yml`\n\n"
        "```yaml\npinot_kubeconfg: ~/.kube/config\npinot_cluster:\n  name: pinot\n  namespce: analytics\n"
        "  node_groups:\n    - {name: controller, role: controller, replica: 1}\n```\n"
        "```yaml\npinot_cluster:\n  hosts:\n    analytics:\n  vars:\n    pinot_controller_uri: x\n```\n"
        "Set `pinot_cluster_waittimeout`.\n"
    )
    problems = [p for command in playbook_commands(section) for p in playbook_problems(command)]
    assert problems == ["playbook pinotops.k8s.sitee: no playbooks/sitee.yml",
                        "inventory playbooks/inventry: no such path",
                        "playbook playbooks/sites.yml: no playbooks/sites.yml"]
    problems = inventory_problems(section)
    assert "variable pinot_kubeconfg: no role takes it" in problems
    assert any(p.startswith("pinot_cluster.namespce: not a field") for p in problems)
    assert any(p.startswith("pinot_cluster.node_groups[0].replica: not a field") for p in problems)
    assert any(p.startswith("group pinot_cluster: no playbook runs on it") for p in problems)
    assert "variable pinot_controller_uri: no role takes it" in problems
    assert any(p.startswith("`pinot_cluster_waittimeout`") for p in problems)
    assert len(problems) == 6, problems


# --------------------------------------------------------------------------- a checkout without make's environment


def collections_paths(root: Path = ROOT) -> list[Path]:
    """ansible.cfg's collections_path, each entry as ansible-core resolves it (relative to the file, ~ expanded)."""
    config = configparser.ConfigParser()
    assert config.read(root / "ansible.cfg"), "no ansible.cfg at the root of the checkout"
    defaults = config["defaults"]
    value = defaults.get("collections_path") or defaults.get("collections_paths")
    assert value, "ansible.cfg sets no collections_path"
    return [root / Path(os.path.expanduser(entry)) for entry in value.split(os.pathsep) if entry]


def test_ansible_cfg_finds_this_checkout_as_the_collection():
    paths = collections_paths()
    first = paths[0]
    home = first / "ansible_collections" / "pinotops" / "k8s"
    assert first == ROOT / "collections", f"the checkout's collections must come first, not {paths}"
    # `make venv` links the directory to the checkout; pytest-ansible, when pytest runs first, makes a directory
    # of links to each of the checkout's entries instead. Ansible finds this checkout through either.
    assert (home / "galaxy.yml").is_file(), f"{home}/galaxy.yml is missing: `make venv` links {home} to the checkout"
    for entry in ("galaxy.yml", "roles", "playbooks", "plugins"):
        assert (home / entry).resolve() == ROOT / entry, f"{home / entry} is not this checkout's {entry}"


@pytest.mark.parametrize("playbook", ["site", "upgrade", "reconcile"])
def test_the_tour_playbooks_exist_in_the_checkout(playbook: str):
    assert (ROOT / "playbooks" / f"{playbook}.yml").is_file()
    assert (ROOT / "playbooks" / "inventory" / "hosts.yml").is_file()
