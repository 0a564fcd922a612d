"""Lists in the docs that repeat a fact the collection keeps elsewhere stay equal to it: the members of an action group
(meta/runtime.yml) wherever docs/awx.md lists them, and the Python requirements (requirements.txt) wherever the
README, docs/awx.md and the example execution environment name them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GROUPS = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]
AWX = (ROOT / "docs" / "awx.md").read_text()

# `group/pinotops.k8s.<group>` followed by ": " or " (" and a list of module names in backquotes.
GROUP_LIST = re.compile(r"`group/pinotops\.k8s\.(\w+)`(?::\s+|\s+\()((?:`\w+`(?:,\s+|\s+and\s+)?)+)")


def group_lists(text: str) -> list[tuple[str, list[str]]]:
    return [(match[1], re.findall(r"`(\w+)`", match[2])) for match in GROUP_LIST.finditer(text)]


def test_the_parser_finds_a_list_after_a_group_name():
    assert group_lists("the modules of `group/pinotops.k8s.k8s`: `a`, `b` and `c`; to `group/pinotops.k8s.pinot` "
                       "(`d`), not `group/pinotops.k8s.k8s` alone") == [("k8s", ["a", "b", "c"]), ("pinot", ["d"])]


def test_awx_md_lists_the_k8s_group_as_meta_runtime_defines_it():
    lists = group_lists(AWX)
    assert "k8s" in {group for group, _members in lists}, "docs/awx.md no longer lists group/pinotops.k8s.k8s"
    for group, members in lists:
        assert sorted(members) == sorted(GROUPS[group]), f"docs/awx.md's list of group/pinotops.k8s.{group}"


def requirement_names() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [re.match(r"[A-Za-z0-9_.-]+", line)[0] for line in lines if line.strip() and not line.startswith("#")]


def test_requirements_txt_is_as_expected():
    # bcrypt was the one missing from the documented lists: pinot_user compares passwords with Pinot's hashes.
    assert {"kubernetes", "requests", "PyYAML", "bcrypt"} <= set(requirement_names())


@pytest.mark.parametrize("path, pattern", [
    ("README.md", r"^\| Python libraries \|(.*)\|$"),
    ("docs/awx.md", r"`requirements\.txt`:([^)]*)\)"),
    ("docs/execution-environment.yml", r"requirements \(requirements\.txt:([^)]*)\)"),
])
def test_every_requirement_is_listed_where_the_docs_list_them(path, pattern):
    text = (ROOT / path).read_text()
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{path}: the list of Python requirements is not where this test looks for it"
    listed = {name.lower() for name in re.findall(r"[A-Za-z][A-Za-z0-9_.-]+", re.sub(r"\s*#\s*", " ", match[1]))}
    missing = [name for name in requirement_names() if name.lower() not in listed]
    assert missing == [], f"{path} does not list {missing}"
