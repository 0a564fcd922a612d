"""The built collection tarball is complete, carries nothing local, and works on its own.

`ansible-galaxy collection build` of the work tree, then a fresh virtualenv (no system site-packages, nothing from
.venv) gets ansible-core plus the requirements.txt shipped *inside* the tarball, the tarball is installed with
`ansible-galaxy collection install`, and a playbook runs from a directory outside the repository with
ANSIBLE_COLLECTIONS_PATH naming only the install directory, against the real Pinot test bed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Work-tree content that must never be packaged (galaxy.yml build_ignore, plus ansible-galaxy's own defaults).
FORBIDDEN_DIRS = (".venv", ".testbed", "build", "collections", "tests/output", ".pytest_cache", ".ruff_cache",
                  ".hypothesis", ".ansible", ".mypy_cache", ".tox", ".git", "context")
FORBIDDEN_PARTS = ("__pycache__",)
FORBIDDEN_SUFFIXES = (".pyc", ".tar.gz")
RECAP = re.compile(r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)

PLAYBOOK = """\
- name: Packaged collection against a real controller
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/pinotops.k8s.pinot:
      controller_url: "{{ controller_url }}"
  tasks:
    - name: Schema from the installed collection
      pinotops.k8s.pinot_schema:
        schema:
          schemaName: "{{ schema_name }}"
          dimensionFieldSpecs:
            - {name: country, dataType: STRING}
          metricFieldSpecs:
            - {name: clicks, dataType: LONG}

    - name: Read it back
      pinotops.k8s.pinot_schema_info:
        name: "{{ schema_name }}"
      register: found

    - name: A schema file from a role's files/ (src through the files search path)
      ansible.builtin.import_role:
        name: schema_from_file

    - name: The controller stores what was asked for
      ansible.builtin.assert:
        that:
          - found.schema.schemaName == schema_name
          - found.schema.dimensionFieldSpecs | map(attribute='name') | list == ['country']
          - found.schema.metricFieldSpecs | map(attribute='name') | list == ['clicks']
"""

# A role of the playbook's own whose files/ holds a schema: `src: views.json` is found there, not in the module's
# working directory (the action plugin resolves it on the controller).
ROLE_TASKS = """\
- name: Schema from files/views.json
  pinotops.k8s.pinot_schema:
    src: views.json
"""


def run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 600):
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def report(what: str, seconds: float) -> None:
    print(f"[packaging] {what}: {seconds:.1f}s")


def galaxy_version() -> str:
    return yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]


# Session-scoped: pytest runs this module's tests in two groups (with and without a Pinot version); built once.
@pytest.fixture(scope="session")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    started = time.monotonic()
    run(BIN / "ansible-galaxy", "collection", "build", "--output-path", out, REPO)
    report("ansible-galaxy collection build", time.monotonic() - started)
    built = out / f"pinotops-k8s-{galaxy_version()}.tar.gz"
    assert built.is_file(), sorted(out.iterdir())
    print(f"[packaging] tarball size: {built.stat().st_size} bytes")
    return built


def test_tarball_holds_the_collection_and_nothing_local(tarball: Path):
    with tarfile.open(tarball) as archive:
        names = [name.removeprefix("./") for name in archive.getnames()]
        manifest = json.load(archive.extractfile("MANIFEST.json"))
    assert manifest["collection_info"]["namespace"] == "pinotops"
    assert manifest["collection_info"]["name"] == "k8s"
    assert manifest["collection_info"]["version"] == galaxy_version()
    modules = sorted(path.name for path in (REPO / "plugins" / "modules").glob("pinot_*.py"))
    required = {"MANIFEST.json", "FILES.json", "README.md", "requirements.txt", "meta/runtime.yml",
                "meta/execution-environment.yml", "changelogs/config.yaml",
                "extensions/awx/credential_type_pinot_controller.yml", "docs/execution-environment.yml",
                *(f"plugins/modules/{name}" for name in modules)}
    assert required <= set(names), sorted(required - set(names))
    leaked = [name for name in names
              if any(name == top or name.startswith(top + "/") for top in FORBIDDEN_DIRS)
              or any(part in FORBIDDEN_PARTS for part in name.split("/"))
              or name.endswith(FORBIDDEN_SUFFIXES)]
    assert leaked == []
    # The work tree really has several of those directories, so the check above is not vacuous.
    assert any((REPO / top).exists() for top in FORBIDDEN_DIRS)


@pytest.fixture(scope="session")
def installed(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A fresh virtualenv with ansible-core and the tarball's requirements, and the collection installed from it."""
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    started = time.monotonic()
    run(sys.executable, "-m", "venv", venv)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANSIBLE_", "PINOT_", "K8S_AUTH_")) and key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    core = next(line.strip() for line in (REPO / "test-requirements.txt").read_text().splitlines()
                if line.startswith("ansible-core"))
    # --no-compile: the tests import a small part of what gets installed (measured: 24 s instead of 43 s).
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile", core,
        env=env)
    report("fresh venv + ansible-core", time.monotonic() - started)

    collections = root / "collections"
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_LOCAL_TEMP=str(root / "ansible-tmp"), ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(root / "none.cfg"))
    (root / "none.cfg").write_text("[defaults]\n")
    started = time.monotonic()
    run(venv / "bin" / "ansible-galaxy", "collection", "install", tarball, "-p", collections, env=env)
    home = collections / "ansible_collections" / "pinotops" / "k8s"
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile",
        "-r", home / "requirements.txt", env=env)
    report("collection install + its requirements", time.monotonic() - started)
    return {"root": root, "venv": venv, "env": env, "home": home}


def test_installed_collection_is_the_only_one_ansible_sees(installed: dict):
    listing = run(installed["venv"] / "bin" / "ansible-galaxy", "collection", "list", "pinotops.k8s",
                  "--format", "json", env=installed["env"], cwd=installed["root"])
    paths = json.loads(listing.stdout)
    assert list(paths) == [str(installed["root"] / "collections" / "ansible_collections")]
    assert paths[str(installed["root"] / "collections" / "ansible_collections")]["pinotops.k8s"]["version"] == \
        galaxy_version()
    probe = run(installed["venv"] / "bin" / "python", "-c",
                "import ansible, kubernetes, requests, yaml; print(ansible.__file__)", env=installed["env"])
    assert probe.stdout.startswith(str(installed["venv"]))


def test_every_module_renders_with_ansible_doc_from_the_install(installed: dict):
    modules = sorted(path.stem for path in (installed["home"] / "plugins" / "modules").glob("pinot_*.py"))
    assert {"pinot_schema", "pinot_table", "pinot_tenant"} <= set(modules)
    docs = json.loads(run(installed["venv"] / "bin" / "ansible-doc", "--json",
                          *(f"pinotops.k8s.{name}" for name in modules),
                          env=installed["env"], cwd=installed["root"]).stdout)
    assert sorted(docs) == [f"pinotops.k8s.{name}" for name in modules]
    for name, entry in docs.items():
        assert entry["doc"]["filename"].startswith(str(installed["home"])), name
        assert "controller_url" in entry["doc"]["options"] or name.startswith("pinotops.k8s.pinot_cluster"), name
        assert entry["examples"].strip(), name


def test_playbook_runs_from_the_installed_collection(installed: dict, pinot):
    root, env = installed["root"], installed["env"]
    (root / "play.yml").write_text(PLAYBOOK)
    name = f"pkg_{uuid.uuid4().hex[:10]}"
    role = root / "roles" / "schema_from_file"
    (role / "tasks").mkdir(parents=True, exist_ok=True)
    (role / "files").mkdir(exist_ok=True)
    (role / "tasks" / "main.yml").write_text(ROLE_TASKS)
    (role / "files" / "views.json").write_text(json.dumps({
        "schemaName": f"{name}_views", "dimensionFieldSpecs": [{"name": "page", "dataType": "STRING"}]}))
    extra = ["-e", f"controller_url={pinot.controller_url}", "-e", f"schema_name={name}"]
    playbook = installed["venv"] / "bin" / "ansible-playbook"
    try:
        started = time.monotonic()
        first = run(playbook, "-vvv", "play.yml", *extra, cwd=root, env=env)
        report("playbook run 1 (create, -vvv)", time.monotonic() - started)
        used = re.findall(r"Using module file (\S+)", first.stdout)
        assert used, first.stdout[-3000:]
        assert all(path.startswith(str(installed["home"])) for path in used), used
        assert [int(n) for n in RECAP.search(first.stdout).groups()] == [4, 2, 0, 0], first.stdout[-3000:]
        stored = requests.get(f"{pinot.controller_url}/schemas/{name}_views", timeout=30)
        assert stored.ok and stored.json()["dimensionFieldSpecs"][0]["name"] == "page", stored.text

        started = time.monotonic()
        second = run(playbook, "play.yml", *extra, cwd=root, env=env)
        report("playbook run 2 (idempotent)", time.monotonic() - started)
        assert [int(n) for n in RECAP.search(second.stdout).groups()] == [4, 0, 0, 0], second.stdout
    finally:
        for schema in (name, f"{name}_views"):
            requests.delete(f"{pinot.controller_url}/schemas/{schema}", timeout=30)
