"""Build the Pinot 1.x modules that the reachable Maven Central lacks, from the unmodified Apache source in shared/.

`../shared/pinot-source/apache-pinot-<version>-src-subset.tar.gz` holds every pom.xml of a release tag and the
main sources of exactly the modules Central does not serve here. This module verifies the tarball, extracts it,
makes the few pom edits an offline build needs (never a Java source), and installs the modules into the test bed's
Maven repository, so that a plain dependency on `pinot-tools:<version>` resolves. Stdlib only.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.testbed.progress import run_with_progress

POM_NS = "http://maven.apache.org/POM/4.0.0"
N = f"{{{POM_NS}}}"
ET.register_namespace("", POM_NS)

SOURCE_DIR = Path(os.environ.get(
    "PINOTOPS_PINOT_SOURCE", Path(__file__).resolve().parents[3] / "shared" / "pinot-source"))
# (sha256 of the tarball, commit of the release tag), as published in shared/pinot-source/README.md.
SOURCES = {
    "1.4.0": ("ee146a0f64d6780805e6ca32d361e9b14ab0a19cecb05972c9bc8117bedcb52c",
              "3a56c9db545e3b403863d8319055ea9be8eae771"),
    "1.5.1": ("6e28ca9b7819a46af29982853857ee0d543cd46c25a1855124fa8c81648ae373",
              "020ff0d0538b2079d4cf4cb2676a191c87c95d4d"),
}
# sha256 of the S3 file system plugin's source (same commits; its parent poms are in the subset tarball).
S3_SOURCES = {
    "1.4.0": "641ce27b82715d55913b23da36073bf47161d65c703a914e21c2a97e72a49d06",
    "1.5.1": "81c7dbf91c2ab3e551300ad896d6633e92270b531d169ec399c7acb387fda68c",
}
S3_MODULE_DIR = Path("pinot-plugins", "pinot-file-system", "pinot-s3")
# pinot-tools depends on every plugin; a local cluster needs none of these, and some pull artifacts that are not
# served here (io.confluent, AWS SDK bundles).
UNNEEDED_TOOLS_DEPENDENCIES = {
    "pinot-confluent-avro", "pinot-protobuf", "pinot-orc", "pinot-parquet", "pinot-thrift", "pinot-kinesis",
    "pinot-pulsar", "pinot-s3", "hadoop-common", "hadoop-hdfs", "sdk-core", "s3",
}
# Only the Kafka broker's Scala code uses it and its pinned version is not served; the test bed's Kafka broker
# runs on a classpath of its own.
UNSERVED_SCALA_MODULE = ("com.fasterxml.jackson.module", "jackson-module-scala_${scala.compat.version}")
MAVEN_FLAGS = [
    "-Dmaven.test.skip=true", "-DskipTests", "-Dcheckstyle.skip", "-Dlicense.skip", "-Drat.skip",
    "-Dspotless.check.skip", "-Dspotless.apply.skip", "-Denforcer.skip", "-Dmaven.javadoc.skip",
    "-Dmaven.source.skip", "-Djacoco.skip", "-Djapicmp.skip", "-Dremoteresources.skip=true",
    "-Dmaven.buildNumber.skip=true", "-DscmBranch=UNKNOWN",
    # The 1.4.0 controller UI build would download node from an unreachable host: no web UI, full REST API.
    "-Dskip.npm", "-Dskip.installnodenpm",
    # Else a 468 MB launcher jar nobody uses.
    "-Dassembly.skipAssembly=true",
]


class SourceUnavailable(RuntimeError):
    """The shared source tarball for a version is missing or does not match its checksum."""


def has_source(version: str) -> bool:
    return version in SOURCES


def tarball(version: str) -> Path:
    return SOURCE_DIR / f"apache-pinot-{version}-src-subset.tar.gz"


def s3_tarball(version: str) -> Path:
    return SOURCE_DIR / f"apache-pinot-{version}-pinot-s3-src.tar.gz"


def _verified(path: Path, expected: str) -> Path:
    if not path.is_file():
        raise SourceUnavailable(f"{path.name} not found in {path.parent} (set PINOTOPS_PINOT_SOURCE)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise SourceUnavailable(f"{path}: sha256 {digest}, expected {expected}")
    return path


def verified_tarball(version: str) -> Path:
    return _verified(tarball(version), SOURCES[version][0])


def _extract(archive_path: Path, tree: Path) -> None:
    """Extract a source tarball into `tree` without its top directory (a second one merges into the first)."""
    with tarfile.open(archive_path) as archive:
        members = []
        for member in archive.getmembers():
            inside = member.name.partition("/")[2]
            if inside:
                member.name = inside
                members.append(member)
        archive.extractall(tree, members=members, filter="data")


def _edit_pom(pom_file: Path) -> None:
    document = ET.parse(pom_file)
    edit_module_pom(document.getroot())
    document.write(pom_file, xml_declaration=True, encoding="UTF-8")


# --------------------------------------------------------------------------- pom edits


def _child(element: ET.Element, tag: str) -> str | None:
    found = element.find(N + tag)
    return found.text.strip() if found is not None and found.text else None


def _dependencies(pom: ET.Element) -> ET.Element | None:
    return pom.find(N + "dependencies")


def _add_dependency(deps: ET.Element, group: str, artifact: str, version: str | None = None) -> None:
    if any(_child(d, "artifactId") == artifact for d in deps):
        return
    dep = ET.SubElement(deps, N + "dependency")
    for tag, text in (("groupId", group), ("artifactId", artifact), ("version", version)):
        if text:
            ET.SubElement(dep, N + tag).text = text


def _exclude(dep: ET.Element, group: str, artifact: str) -> None:
    exclusions = dep.find(N + "exclusions")
    if exclusions is None:
        exclusions = ET.SubElement(dep, N + "exclusions")
    exclusion = ET.SubElement(exclusions, N + "exclusion")
    ET.SubElement(exclusion, N + "groupId").text = group
    ET.SubElement(exclusion, N + "artifactId").text = artifact


def edit_module_pom(pom: ET.Element) -> None:
    """The edits every module built from the tarball gets; `pom` is its <project> element."""
    deps = _dependencies(pom)
    if deps is None:
        return
    for dep in list(deps):
        # Maven resolves test dependencies even with tests skipped, and Pinot's test-jars are not served.
        coordinates = (_child(dep, "groupId"), _child(dep, "artifactId"))
        if _child(dep, "scope") == "test" or coordinates == UNSERVED_SCALA_MODULE:
            deps.remove(dep)
        elif (_child(dep, "artifactId") or "").startswith("kafka_"):
            _exclude(dep, *UNSERVED_SCALA_MODULE)
    if _child(pom, "artifactId") == "pinot-tools":
        for dep in list(deps):
            if _child(dep, "artifactId") in UNNEEDED_TOOLS_DEPENDENCIES:
                deps.remove(dep)
        # pinot-tools imports org.apache.parquet.Strings (came with pinot-parquet) and Kafka client classes
        # (1.5 gets them from no other compile dependency).
        _add_dependency(deps, "org.apache.parquet", "parquet-common", "${parquet.version}")
        _add_dependency(deps, "org.apache.kafka", "kafka-clients")


def source_modules(tree: Path) -> list[tuple[str, Path]]:
    """(artifactId, dir) of the modules the tarball carries sources for, plus their aggregator poms (not the root)."""
    poms = {}
    for pom_file in tree.rglob("pom.xml"):
        if "src" in pom_file.relative_to(tree).parts:  # test projects inside a plugin's sources
            continue
        root = ET.parse(pom_file).getroot()
        parent = root.find(N + "parent")
        parent_id = _child(parent, "artifactId") if parent is not None else None
        poms[_child(root, "artifactId")] = (pom_file.parent, parent_id)
    wanted: dict[str, Path] = {}
    for artifact, (directory, parent) in poms.items():
        if (directory / "src" / "main").is_dir():
            wanted[artifact] = directory
            while parent in poms and poms[parent][0] != tree:
                wanted[parent] = poms[parent][0]
                parent = poms[parent][1]
    return sorted(wanted.items())


def prepare_tree(version: str, tree: Path) -> list[str]:
    """Extract the verified tarball into `tree` and edit its poms; returns the artifactIds to build."""
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    _extract(verified_tarball(version), tree)
    # A build-scan extension that calls a server this network cannot reach.
    (tree / ".mvn" / "extensions.xml").unlink(missing_ok=True)
    modules = source_modules(tree)
    for _artifact, directory in modules:
        _edit_pom(directory / "pom.xml")
    return [artifact for artifact, _directory in modules]


def prepare_s3_tree(version: str, tree: Path) -> list[str]:
    """The subset tree with the S3 plugin's source merged in; returns pinot-s3 and its aggregator poms (not the
    root), which a consumer of pinot-s3 needs in the local repository too."""
    _verified(s3_tarball(version), S3_SOURCES[version])
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    _extract(verified_tarball(version), tree)
    _extract(s3_tarball(version), tree)
    (tree / ".mvn" / "extensions.xml").unlink(missing_ok=True)
    modules = []
    for depth in range(len(S3_MODULE_DIR.parts), 0, -1):
        pom_file = tree.joinpath(*S3_MODULE_DIR.parts[:depth], "pom.xml")
        _edit_pom(pom_file)
        modules.append(_child(ET.parse(pom_file).getroot(), "artifactId"))
    return modules


# --------------------------------------------------------------------------- build


MODULE_STARTED = re.compile(r"\[INFO\] Building (.+?)\s+(\[\d+/\d+\])$")


def current_module(log: Path) -> str:
    """'Pinot Server 1.5.1 [20/28]': the module Maven started last, from its log."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        found = MODULE_STARTED.match(line)
        if found:
            return " ".join(found.groups())
    return ""


def _maven_install(version: str, tree: Path, modules: list[str], settings: Path, *, log: Path, what: str) -> float:
    began = time.monotonic()
    rc = run_with_progress(
        ["mvn", "-B", "-T", "2", "-s", str(settings), "-Ppinot-fastdev,!plugin-assembly",
         "-pl", ",".join(f":{m}" for m in modules), *MAVEN_FLAGS, f"-DbuildNumber={SOURCES[version][1]}", "install"],
        log, what, tree, detail=current_module)
    if rc != 0:
        errors = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("[ERROR]")]
        raise SourceUnavailable(f"{what} failed ({log}):\n" + "\n".join(errors[:15]))
    return round(time.monotonic() - began, 1)


def install_from_source(version: str, workdir: Path, settings: Path) -> float:
    """Build and install into the local repository every module the tarball has sources for; returns seconds."""
    tree = workdir / "src"
    modules = prepare_tree(version, tree)
    return _maven_install(version, tree, modules, settings, log=workdir / "build.log",
                          what=f"building Pinot {version} ({len(modules)} modules) from {tarball(version).name}")


def install_s3_plugin(version: str, workdir: Path, settings: Path) -> float:
    """Build and install pinot-s3 (unshaded: its AWS SDK comes from Central) of `version`; returns seconds."""
    tree = workdir / "src"
    modules = prepare_s3_tree(version, tree)
    return _maven_install(version, tree, modules, settings, log=workdir / "build.log",
                          what=f"building Pinot {version}'s S3 plugin from {s3_tarball(version).name}")


EXAMPLES = "pinot-tools/src/main/resources/examples/"


def example_configs(version: str, target: Path) -> Path:
    """The example schemas and table configs the version ships (examples/{batch,stream}/**.json), extracted once."""
    marker = target / ".complete"
    if marker.is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tarfile.open(verified_tarball(version)) as archive:
        for member in archive.getmembers():
            inside = member.name.partition(EXAMPLES)[2]
            if member.isfile() and inside.split("/")[0] in ("batch", "stream") and inside.endswith(".json"):
                destination = target / inside
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(archive.extractfile(member).read())
    marker.touch()
    return target
