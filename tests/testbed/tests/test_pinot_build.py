"""The test bed's Pinot 1.x build: pom edits, module selection, checksum, progress, examples (no Maven run)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.testbed import pinot_build, progress
from tests.testbed.pinot_build import N


def pom(artifact: str, dependencies: str, parent: str | None = "pinot") -> str:
    parent_xml = f"<parent><artifactId>{parent}</artifactId></parent>" if parent else ""
    return (f'<project xmlns="{pinot_build.POM_NS}">{parent_xml}<artifactId>{artifact}</artifactId>'
            f"<dependencies>{dependencies}</dependencies></project>")


def dep(group: str, artifact: str, scope: str | None = None) -> str:
    scope_xml = f"<scope>{scope}</scope>" if scope else ""
    return f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>{scope_xml}</dependency>"


def artifacts(root: ET.Element) -> list[str]:
    return [d.find(N + "artifactId").text for d in root.find(N + "dependencies")]


def test_module_pom_loses_test_dependencies_and_the_unserved_scala_module():
    root = ET.fromstring(pom("pinot-kafka-3.0", dep("org.apache.pinot", "pinot-kafka-base")
                             + dep("org.apache.pinot", "pinot-kafka-base", "test")
                             + dep("com.fasterxml.jackson.module", "jackson-module-scala_${scala.compat.version}")
                             + dep("org.apache.kafka", "kafka_${scala.compat.version}")))
    pinot_build.edit_module_pom(root)
    assert artifacts(root) == ["pinot-kafka-base", "kafka_${scala.compat.version}"]
    kafka = root.find(N + "dependencies")[1]
    excluded = [(e.find(N + "groupId").text, e.find(N + "artifactId").text)
                for e in kafka.find(N + "exclusions")]
    assert excluded == [pinot_build.UNSERVED_SCALA_MODULE]


def test_pinot_tools_keeps_what_a_local_cluster_needs_and_gains_its_imports_once():
    root = ET.fromstring(pom("pinot-tools", dep("org.apache.pinot", "pinot-server")
                             + dep("org.apache.pinot", "pinot-s3") + dep("org.apache.hadoop", "hadoop-common")
                             + dep("org.apache.pinot", "pinot-parquet")
                             + dep("org.apache.kafka", "kafka-clients")))
    pinot_build.edit_module_pom(root)
    pinot_build.edit_module_pom(root)
    assert artifacts(root) == ["pinot-server", "kafka-clients", "parquet-common"]
    parquet = root.find(N + "dependencies")[2]
    assert parquet.find(N + "version").text == "${parquet.version}"


def test_modules_with_sources_and_their_aggregators_are_built_not_the_root_or_sourceless_ones(tmp_path: Path):
    layout = {
        "pom.xml": pom("pinot", "", parent="apache"),
        "pinot-spi/pom.xml": pom("pinot-spi", ""),  # served by Central: pom only
        "pinot-server/pom.xml": pom("pinot-server", ""),
        "pinot-plugins/pom.xml": pom("pinot-plugins", ""),
        "pinot-plugins/pinot-stream/pom.xml": pom("pinot-stream", "", parent="pinot-plugins"),
        "pinot-plugins/pinot-stream/pinot-kafka/pom.xml": pom("pinot-kafka", "", parent="pinot-stream"),
        "pinot-plugins/pinot-stream/pinot-kafka/src/it/pom.xml": pom("an-it-project", ""),
    }
    for name, text in layout.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    for module in ("pinot-server", "pinot-plugins/pinot-stream/pinot-kafka"):
        (tmp_path / module / "src" / "main").mkdir(parents=True)
    assert [artifact for artifact, _dir in pinot_build.source_modules(tmp_path)] == [
        "pinot-kafka", "pinot-plugins", "pinot-server", "pinot-stream"]


def _tarball(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_a_tarball_that_does_not_match_its_checksum_is_refused(tmp_path: Path, monkeypatch):
    _tarball(tmp_path / "apache-pinot-1.5.1-src-subset.tar.gz", {"x/pom.xml": "<project/>"})
    monkeypatch.setattr(pinot_build, "SOURCE_DIR", tmp_path)
    with pytest.raises(pinot_build.SourceUnavailable, match="sha256 .* expected 6e28ca9b"):
        pinot_build.verified_tarball("1.5.1")


def test_a_missing_tarball_names_where_it_was_looked_for(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(pinot_build, "SOURCE_DIR", tmp_path)
    with pytest.raises(pinot_build.SourceUnavailable, match=str(tmp_path)):
        pinot_build.verified_tarball("1.4.0")


def test_examples_are_the_json_configs_of_batch_and_stream(tmp_path: Path, monkeypatch):
    prefix = "apache-pinot-1.5.1-src-subset/" + pinot_build.EXAMPLES
    tarball = _tarball(tmp_path / "t.tar.gz", {
        prefix + "batch/a/a_schema.json": json.dumps({"schemaName": "a"}),
        prefix + "stream/b/b_realtime_table_config.json": "{}",
        prefix + "batch/a/ingestionJobSpec.yaml": "x: 1",
        prefix + "minions/c/c_schema.json": "{}",
    })
    monkeypatch.setattr(pinot_build, "verified_tarball", lambda version: tarball)
    target = pinot_build.example_configs("1.5.1", tmp_path / "examples")
    found = sorted(str(p.relative_to(target)) for p in target.rglob("*.json"))
    assert found == ["batch/a/a_schema.json", "stream/b/b_realtime_table_config.json"]


def test_progress_names_the_module_maven_started_last(tmp_path: Path):
    log = tmp_path / "build.log"
    log.write_text("[INFO] Building Pinot Server 1.5.1                                  [20/28]\n"
                   "[INFO] Building jar: /x/pinot-server-1.5.1.jar\n")
    assert pinot_build.current_module(log) == "Pinot Server 1.5.1 [20/28]"


def test_the_build_reports_progress_while_maven_runs(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(progress, "PROGRESS_SECONDS", 0.2)
    lines: list[str] = []
    rc = progress.run_with_progress(["sleep", "1"], tmp_path / "log", "building X", tmp_path, say=lines.append,
                                    detail=lambda log: "")
    assert rc == 0
    assert lines[0].startswith("testbed: building X (log: ")
    periodic = lines[1:-1]
    assert len(periodic) >= 2, lines
    assert all(re.fullmatch(r"testbed: building X: \d+ s", line) for line in periodic), periodic
    assert lines[-1].startswith("testbed: building X: finished in")


def test_the_s3_plugin_is_built_with_its_aggregators_from_the_subset_and_its_own_tarball(tmp_path: Path, monkeypatch):
    subset = _tarball(tmp_path / "subset.tar.gz", {
        "apache-pinot-1.5.1-src-subset/pom.xml": pom("pinot", "", parent=None),
        "apache-pinot-1.5.1-src-subset/.mvn/extensions.xml": "<extensions/>",
        "apache-pinot-1.5.1-src-subset/pinot-plugins/pom.xml": pom("pinot-plugins", ""),
        "apache-pinot-1.5.1-src-subset/pinot-plugins/pinot-file-system/pom.xml":
            pom("pinot-file-system", dep("org.apache.pinot", "pinot-spi"), parent="pinot-plugins"),
    })
    s3 = _tarball(tmp_path / "apache-pinot-1.5.1-pinot-s3-src.tar.gz", {
        "apache-pinot-1.5.1-pinot-s3-src/pinot-plugins/pinot-file-system/pinot-s3/pom.xml":
            pom("pinot-s3", dep("software.amazon.awssdk", "s3") + dep("org.testcontainers", "testcontainers", "test"),
                parent="pinot-file-system"),
        "apache-pinot-1.5.1-pinot-s3-src/pinot-plugins/pinot-file-system/pinot-s3/src/main/java/S3PinotFS.java": "",
    })
    monkeypatch.setattr(pinot_build, "verified_tarball", lambda version: subset)
    monkeypatch.setattr(pinot_build, "SOURCE_DIR", tmp_path)
    monkeypatch.setitem(pinot_build.S3_SOURCES, "1.5.1", hashlib.sha256(s3.read_bytes()).hexdigest())
    tree = tmp_path / "tree"
    assert pinot_build.prepare_s3_tree("1.5.1", tree) == ["pinot-s3", "pinot-file-system", "pinot-plugins"]
    assert not (tree / ".mvn" / "extensions.xml").exists()
    plugin = ET.parse(tree / pinot_build.S3_MODULE_DIR / "pom.xml").getroot()
    assert artifacts(plugin) == ["s3"]  # the test-scoped dependency is gone
    assert (tree / pinot_build.S3_MODULE_DIR / "src/main/java/S3PinotFS.java").is_file()
    monkeypatch.setitem(pinot_build.S3_SOURCES, "1.5.1", "0" * 64)
    with pytest.raises(pinot_build.SourceUnavailable, match="sha256"):
        pinot_build.prepare_s3_tree("1.5.1", tree)
