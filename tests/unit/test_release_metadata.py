"""The release metadata agrees with itself: galaxy.yml's version comes after every release of
changelogs/changelog.yaml, each module's version_added is the release that first shipped it (or the coming one),
the metadata URLs are real, LICENSE is the licence galaxy.yml names, and every guide of docs/*.md is published,
current, by docs/docsite/extra-docs.yml.
"""

from __future__ import annotations

import ast
import hashlib
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
RELEASES = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())["releases"] or {}
MODULES = sorted((ROOT / "plugins" / "modules").glob("*.py"))
GUIDES = sorted((ROOT / "docs").glob("*.md"))
DOCSITE = ROOT / "docs" / "docsite"
LABEL_PREFIX = "ansible_collections.pinotops.k8s.docsite."
PLACEHOLDER_HOSTS = ("localhost", "example.com", "example.org", "example.net")
PLACEHOLDER_SUFFIXES = (".invalid", ".example", ".test", ".localhost", ".example.com", ".example.org", ".example.net")


def documentation(module: Path) -> dict:
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(ast.literal_eval(node.value))
    raise AssertionError(f"{module.name} has no DOCUMENTATION")


def first_release(module: str) -> str | None:
    """The earliest release of changelog.yaml whose ``modules`` lists the module."""
    listing = [
        version for version, release in RELEASES.items()
        if any(entry["name"] == module for entry in release.get("modules") or [])
    ]
    return min(listing, key=Version) if listing else None


def nested_versions_added(options: dict, path: str = "") -> list[tuple[str, str]]:
    found = []
    for name, spec in (options or {}).items():
        where = f"{path}{name}"
        if "version_added" in spec:
            found.append((where, str(spec["version_added"])))
        found += nested_versions_added(spec.get("suboptions"), f"{where}.")
    return found


def test_the_version_comes_after_every_release():
    version = Version(str(GALAXY["version"]))
    assert str(version) == str(GALAXY["version"]), "galaxy.yml's version is not plain X.Y.Z"
    older = [released for released in RELEASES if Version(released) >= version]
    assert not older, f"galaxy.yml's version {version} is not after the released {older} (changelog.yaml)"


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.stem)
def test_version_added_is_the_release_that_first_shipped_the_module(module):
    doc = documentation(module)
    released = first_release(doc["module"])
    expected = released or str(GALAXY["version"])
    why = f"first listed under release {released} of changelog.yaml" if released else (
        f"in no release of changelog.yaml, so new in galaxy.yml's {GALAXY['version']}"
    )
    assert str(doc["version_added"]) == expected, f"{module.stem}: version_added should be {expected} ({why})"
    # An option cannot be older than its module nor newer than the coming release.
    for option, added in nested_versions_added(doc.get("options")):
        assert Version(expected) <= Version(added) <= Version(str(GALAXY["version"])), (
            f"{module.stem}: option {option} has version_added {added}, outside {expected}..{GALAXY['version']}"
        )


@pytest.mark.parametrize("key", ["repository", "documentation", "issues", "homepage"])
def test_the_metadata_urls_are_real(key):
    url = GALAXY.get(key)
    assert url, f"galaxy.yml has no {key}"
    parsed = urlparse(url)
    host = parsed.hostname or ""
    assert parsed.scheme == "https" and host, f"galaxy.yml {key}: {url} is not an https URL"
    assert host not in PLACEHOLDER_HOSTS and not host.endswith(PLACEHOLDER_SUFFIXES), (
        f"galaxy.yml {key}: {url} is a placeholder"
    )
    assert url.startswith(GALAXY["repository"]), f"galaxy.yml {key}: {url} is not in the repository"


def test_the_licence_file_is_the_licence_galaxy_names():
    assert GALAXY["license"] == ["GPL-3.0-or-later"]
    text = (ROOT / "LICENSE").read_text()
    assert re.match(r"\s*GNU GENERAL PUBLIC LICENSE\s+Version 3, 29 June 2007\n", text)
    assert "END OF TERMS AND CONDITIONS" in text and "How to Apply These Terms to Your New Programs" in text


def page(guide: Path) -> Path:
    return DOCSITE / "rst" / f"{guide.stem}.rst"


def test_every_guide_is_in_the_docsite_index():
    index = yaml.safe_load((DOCSITE / "extra-docs.yml").read_text())
    listed = [
        entry if isinstance(entry, str) else entry["ref"]
        for section in index["sections"] for entry in section["toctree"]
    ]
    assert sorted(listed) == sorted(guide.stem for guide in GUIDES), "extra-docs.yml does not list docs/*.md"
    pages = sorted(path.stem for path in (DOCSITE / "rst").glob("*.rst"))
    assert pages == sorted(guide.stem for guide in GUIDES), "docs/docsite/rst/ does not match docs/*.md"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: path.name)
def test_the_guide_page_is_current(guide):
    recorded = re.search(r"Source SHA-256: ([0-9a-f]{64})", page(guide).read_text())
    assert recorded, f"{page(guide).relative_to(ROOT)} records no source"
    assert recorded.group(1) == hashlib.sha256(guide.read_bytes()).hexdigest(), (
        f"docs/{guide.name} changed after {page(guide).relative_to(ROOT)} was written: "
        "run `python docs/docsite/md2rst.py` (needs pandoc)"
    )


def test_every_reference_between_guides_has_its_label():
    texts = [path.read_text() for path in sorted((DOCSITE / "rst").glob("*.rst"))]
    labels = {label for text in texts for label in re.findall(r"^\.\. _([^:\n]+):$", text, flags=re.M)}
    references = {
        target for text in texts
        for target in re.findall(r":ref:`(?:[^`<]*<)?(" + re.escape(LABEL_PREFIX) + r"[^`>]+)>?`", text)
    }
    assert references, "no reference between the guides found: the pattern is wrong"
    assert references <= labels, f"references without a label: {sorted(references - labels)}"
