"""The example execution environment (docs/execution-environment.yml) installs this collection and its Python needs.

No image is built (there is no container runtime here). `ansible-builder create` writes the build context; the test
then runs, on this machine, the two steps the generated Containerfile runs inside the image: the galaxy stage's
`ansible-galaxy collection install -r requirements.yml` from the context's `_build/` directory, and the builder
stage's `introspect.py introspect`, which turns the installed collections' `meta/execution-environment.yml` into the
pip requirements the image gets. ansible-builder v3 resolves collection requirements only in that build step, so
this is where our `requirements.txt` must show up.

Marked integration so `make test-integration` runs it; it needs no test bed, only the tools in .venv.
"""

from __future__ import annotations

import filecmp
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXAMPLE = REPO / "docs" / "execution-environment.yml"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Ansible settings (pytest-ansible exports ANSIBLE_COLLECTIONS_PATH with
    the source tree in it, and ansible-galaxy skips installing what it finds on the configured paths)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(extra)
    return env


def run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None):
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env or clean_env(), capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def galaxy_version() -> str:
    return yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]


def requirement_names(lines: list[str]) -> dict[str, str]:
    """Lower-cased project name -> the requirement as written (comments dropped)."""
    found = {}
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text:
            found[Requirement(text).name.lower()] = text
    return found


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example EE definition next to a freshly built tarball, as docs/awx.md tells users to lay it out."""
    work = tmp_path_factory.mktemp("ee")
    run(BIN / "ansible-galaxy", "collection", "build", "--output-path", work, REPO)
    shutil.copy(EXAMPLE, work / EXAMPLE.name)
    run(BIN / "ansible-builder", "create", "-f", work / EXAMPLE.name, "-c", work / "context",
        "--output-filename", "Containerfile")
    return work / "context"


def test_example_names_the_tarball_of_this_version():
    definition = yaml.safe_load(EXAMPLE.read_text())
    tarball = f"pinotops-k8s-{galaxy_version()}.tar.gz"
    assert definition["version"] == 3
    assert [entry["src"] for entry in definition["additional_build_files"]] == [tarball], \
        "docs/execution-environment.yml must follow the version in galaxy.yml"
    assert definition["dependencies"]["galaxy"]["collections"] == [
        {"name": f"collections/{tarball}", "type": "file"}]


def test_context_installs_the_collection_from_the_tarball(context: Path):
    tarball = f"pinotops-k8s-{galaxy_version()}.tar.gz"
    containerfile = (context / "Containerfile").read_text()
    assert "COPY _build /build" in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "introspect.py introspect" in containerfile
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core>=2.19,<2.20 ansible-runner"' in containerfile
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert galaxy == {"collections": [{"name": f"collections/{tarball}", "type": "file"}]}
    # additional_build_files only warns about a missing source: the tarball must really be in the context.
    copied = context / "_build" / "collections" / tarball
    assert copied.is_file()
    assert filecmp.cmp(copied, context.parent / tarball, shallow=False)
    with tarfile.open(copied) as archive:
        assert {"meta/execution-environment.yml", "requirements.txt"} <= set(archive.getnames())


def test_build_steps_yield_our_python_requirements(context: Path, tmp_path: Path):
    build_dir = context / "_build"
    collections = tmp_path / "usr-share-ansible-collections"
    # The galaxy stage: same command, same working directory layout (/build), a local target path.
    run(BIN / "ansible-galaxy", "collection", "install", "-r", "requirements.yml", "--collections-path", collections,
        cwd=build_dir, env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(collections)))
    installed = collections / "ansible_collections" / "pinotops" / "k8s"
    meta = yaml.safe_load((installed / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements.txt"}

    # The builder stage: the context's own copy of the introspection script.
    script = build_dir / "scripts" / "introspect.py"
    written = tmp_path / "out" / "requirements.txt"
    bindep = tmp_path / "out" / "bindep.txt"
    result = run(sys.executable, script, "introspect", collections, f"--write-pip={written}",
                 f"--write-bindep={bindep}")

    spec = importlib.util.spec_from_file_location("ee_introspect", script)
    introspect = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(introspect)
    ours = requirement_names((REPO / "requirements.txt").read_text().splitlines())
    # ansible-builder leaves out what every EE already has (PyYAML comes with ansible-core).
    expected = {name: text for name, text in ours.items() if name not in introspect.EXCLUDE_REQUIREMENTS}
    assert expected, "requirements.txt lists nothing the builder would install"
    assert set(ours) - set(expected) <= {"pyyaml"}, "only PyYAML may be left to the base image"

    lines = written.read_text().splitlines()
    assert requirement_names(lines) == expected, result.stdout
    assert all(line.endswith("# from collection pinotops.k8s") for line in lines if line.strip())
    # No system packages: the collection ships no bindep file and needs none.
    assert not bindep.exists()
