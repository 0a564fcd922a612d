"""Container images for the test bed's real node, built without a registry or a Docker engine.

A Debian minbase rootfs with a JRE (debootstrap + chroot) is one cached layer; the Pinot and ZooKeeper images add one
layer each (umoci) and are written as OCI archives (skopeo) that `ctr images import` loads into containerd. They are
stand-ins for `apachepinot/pinot` and `zookeeper` with the interface the collection's manifests use, nothing more.

Stdlib only. Needs root (debootstrap, chroot, mount) and Debian's package mirror.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.testbed import pinot
from tests.testbed.progress import run_with_progress

IMAGES_DIR = pinot.CACHE_DIR / "images"
FILES = Path(__file__).resolve().parent / "image_files"
# Bump when a build step changes in a way the cache keys below cannot see.
RECIPE = 1
TOOLS = {"debootstrap": "debootstrap", "umoci": "umoci", "skopeo": "skopeo"}  # command -> Debian package
JRE_PACKAGE = "openjdk-17-jre-headless"
PINOT_REPOSITORY = "docker.io/apachepinot/pinot"
ZOOKEEPER_REPOSITORY = "docker.io/library/zookeeper"
ZOOKEEPER_UID = 1000  # the official image's zookeeper user
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PINOT_ROLES = ("controller", "broker", "server", "minion")
# The official images' documented ports; informational in OCI, but kubectl describe shows them.
PINOT_PORTS = (9000, 8099, 8098, 8097, 8096, 9514)
ZOOKEEPER_PORTS = (2181, 2888, 3888, 8080)
# The Prometheus JMX exporter's Java agent (its newest release Maven Central serves; a shaded jar without runtime
# dependencies), where the official image keeps it: /opt/pinot/etc/jmx_prometheus_javaagent/jmx_prometheus_javaagent.jar
# (a link to the versioned jar), with the exporter configs in configs/ beside it. The configs are the test bed's own
# (image_files/pinot/jmx_prometheus_javaagent/pinot.yml), installed under the official image's file names.
JMX_EXPORTER = ("io.prometheus.jmx", "jmx_prometheus_javaagent", "1.0.1")
JMX_EXPORTER_HOME = "opt/pinot/etc/jmx_prometheus_javaagent"
JMX_EXPORTER_CONFIGS = ("pinot.yml", *(f"{role}.yml" for role in PINOT_ROLES))
NICE = ["nice", "-n", "10"]  # the machine is shared with other test runs


class ImageBuildError(RuntimeError):
    """An image could not be built (missing tool or package, failed step)."""


# --------------------------------------------------------------------------- tools


def _which(command: str) -> str | None:
    # debootstrap lives in /usr/sbin, which a non-login PATH may lack.
    return shutil.which(command, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def _apt_candidate(package: str) -> str | None:
    out = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True, check=False).stdout
    found = re.search(r"Candidate:\s*(\S+)", out)
    return None if found is None or found.group(1) == "(none)" else found.group(1)


def ensure_image_tools(commands: tuple[str, ...] = tuple(TOOLS)) -> None:
    """Install the Debian packages behind `commands` that are missing (one apt-get update, one install)."""
    missing = [TOOLS.get(c, c) for c in commands if _which(c) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise ImageBuildError(f"{', '.join(missing)} missing and not root: cannot apt-get install them")
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    log = IMAGES_DIR / "tools.apt-install.log"
    # Wait for a dpkg lock another engineer's apt-get may hold instead of failing at once.
    apt = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=600"]
    update_log = IMAGES_DIR / "tools.apt-update.log"
    if run_with_progress([*apt, "update"], update_log, "apt-get update", IMAGES_DIR) != 0:
        raise ImageBuildError(f"apt-get update failed; see {update_log}")
    unknown = [p for p in missing if _apt_candidate(p) is None]
    if unknown:
        raise ImageBuildError(f"no installable Debian package {', '.join(unknown)}")
    command = ["env", "DEBIAN_FRONTEND=noninteractive", *apt, "install", "-y", "--no-install-recommends", *missing]
    if run_with_progress(command, log, f"apt-get install {' '.join(missing)}", IMAGES_DIR) != 0:
        raise ImageBuildError(f"apt-get install {' '.join(missing)} failed; see {log}")


# --------------------------------------------------------------------------- apt sources


def apt_sources(etc_apt: Path = Path("/etc/apt")) -> list[tuple[str, str, list[str]]]:
    """Every enabled `deb` source as (uri, suite, components), from sources.list(.d) one-line and deb822 files."""
    found: list[tuple[str, str, list[str]]] = []
    files = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.name.endswith(".list") or path == etc_apt / "sources.list":
            for line in text.splitlines():
                line = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0])  # drop [options]
                words = line.split()
                if len(words) >= 3 and words[0] == "deb":
                    found.append((words[1].rstrip("/"), words[2], words[3:]))
        elif path.name.endswith(".sources"):
            for stanza in _deb822(text):
                if stanza.get("enabled", "yes").lower() == "no" or "deb" not in stanza.get("types", "").split():
                    continue
                for uri in stanza.get("uris", "").split():
                    for suite in stanza.get("suites", "").split():
                        found.append((uri.rstrip("/"), suite, stanza.get("components", "").split()))
    return found


def _deb822(text: str) -> Iterator[dict[str, str]]:
    stanza: dict[str, str] = {}
    field = ""
    for line in [*text.splitlines(), ""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if stanza:
                yield stanza
            stanza, field = {}, ""
        elif line[0] in " \t" and field:  # a continuation line (e.g. an inline Signed-By key)
            stanza[field] += " " + line.strip()
        elif ":" in line:
            field, value = line.split(":", 1)
            field = field.strip().lower()
            stanza[field] = value.strip()


def debian_mirror(release: str, sources: list[tuple[str, str, list[str]]]) -> str:
    """The mirror apt already uses for `release` itself (not -updates/-security)."""
    for uri, suite, _components in sources:
        if suite == release:
            return uri
    raise ImageBuildError(f"no apt source for Debian {release} in /etc/apt: cannot debootstrap it")


def chroot_sources(release: str, sources: list[tuple[str, str, list[str]]]) -> str:
    """sources.list for the rootfs: the host's entries for `release` and its -updates/-security suites.

    No signed-by: the rootfs trusts debian-archive-keyring, which debootstrap installs.
    """
    lines = []
    for uri, suite, components in sources:
        if suite == release or suite.startswith(release + "-"):
            line = f"deb {uri} {suite} {' '.join(components or ['main'])}"
            if line not in lines:
                lines.append(line)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- cache helpers


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _files_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def _read_marker(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_marker(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    # Parallel pytest workers or a second `make` must not build the same entry twice at once.
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    with open(IMAGES_DIR / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path`, deepest first (from /proc/self/mountinfo)."""
    root = str(path.resolve())
    points = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point == root or point.startswith(root + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def _unmount_all(path: Path) -> None:
    for point in _mounts_under(path):
        if subprocess.call(["umount", point]) != 0:
            subprocess.call(["umount", "-l", point])  # a lazy unmount still detaches it from the tree
    left = _mounts_under(path)
    if left:
        raise ImageBuildError(f"still mounted under {path}: {left}")


def _remove(path: Path) -> None:
    """rm -rf that first detaches mounts: deleting through a mounted /proc or /dev must never happen."""
    if not path.exists() and not path.is_symlink():
        return
    _unmount_all(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _step(command: list[str], log: Path, what: str, cwd: Path) -> None:
    if run_with_progress(command, log, what, cwd) != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise ImageBuildError(f"{what} failed (log: {log}):\n{tail}")


def _log(entry: Path, step: str) -> Path:
    # Not with_suffix: "pinot-1.5.1" would lose its ".1".
    return entry.with_name(f"{entry.name}.{step}.log")


def _dir_bytes(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# --------------------------------------------------------------------------- OCI config


def umoci_config_args(config: dict[str, Any]) -> list[str]:
    """`umoci config` flags that set exactly `config` (lists are replaced, not appended to)."""
    args = ["--clear=config.env", "--clear=config.entrypoint", "--clear=config.cmd",
            "--clear=config.exposedports", "--clear=config.labels"]
    args += [f"--config.env={item}" for item in config.get("Env", [])]
    args += [f"--config.entrypoint={item}" for item in config.get("Entrypoint", [])]
    args += [f"--config.cmd={item}" for item in config.get("Cmd", [])]
    args += [f"--config.exposedports={item}" for item in config.get("ExposedPorts", [])]
    args += [f"--config.label={k}={v}" for k, v in sorted(config.get("Labels", {}).items())]
    if "WorkingDir" in config:
        args.append(f"--config.workingdir={config['WorkingDir']}")
    if "User" in config:
        args.append(f"--config.user={config['User']}")
    return args


def base_config() -> dict[str, Any]:
    return {"Env": [f"PATH={PATH}", "LANG=C.UTF-8"], "Cmd": ["/bin/bash"], "WorkingDir": "/"}


def pinot_config(version: str) -> dict[str, Any]:
    """The official image's interface: WORKDIR /opt/pinot, entrypoint ./bin/pinot-admin.sh (JAVA_OPTS from the pod)."""
    return {
        "Env": [f"PATH={PATH}", "LANG=C.UTF-8", "PINOT_HOME=/opt/pinot"],
        "Entrypoint": ["./bin/pinot-admin.sh"], "Cmd": ["-help"], "WorkingDir": "/opt/pinot",
        "ExposedPorts": [f"{port}/tcp" for port in PINOT_PORTS],
        "Labels": {"org.opencontainers.image.title": "apachepinot/pinot stand-in (pinotops test bed)",
                   "org.opencontainers.image.version": version},
    }


def zookeeper_home(version: str) -> str:
    return f"/apache-zookeeper-{version}-bin"


def zookeeper_config(version: str) -> dict[str, Any]:
    """The official image's interface: /docker-entrypoint.sh, zkServer.sh on PATH, ZOO_* defaults, /conf, /data."""
    home = zookeeper_home(version)
    return {
        "Env": [f"PATH={PATH}:{home}/bin", "LANG=C.UTF-8", "ZOO_CONF_DIR=/conf", "ZOO_DATA_DIR=/data",
                "ZOO_DATA_LOG_DIR=/datalog", "ZOO_LOG_DIR=/logs", "ZOO_TICK_TIME=2000", "ZOO_INIT_LIMIT=5",
                "ZOO_SYNC_LIMIT=2", "ZOO_AUTOPURGE_PURGEINTERVAL=0", "ZOO_AUTOPURGE_SNAPRETAINCOUNT=3",
                "ZOO_MAX_CLIENT_CNXNS=60", "ZOO_STANDALONE_ENABLED=true", "ZOO_ADMINSERVER_ENABLED=true"],
        "Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["zkServer.sh", "start-foreground"], "WorkingDir": home,
        "ExposedPorts": [f"{port}/tcp" for port in ZOOKEEPER_PORTS],
        "Labels": {"org.opencontainers.image.title": "zookeeper stand-in (pinotops test bed)",
                   "org.opencontainers.image.version": version},
    }


# --------------------------------------------------------------------------- base


def _base_key(release: str) -> str:
    return _key(RECIPE, release, JRE_PACKAGE, base_config())


def base_image(release: str = "bookworm") -> Path:
    """Debian `release` minbase + a JRE 17: a directory with rootfs/ and oci/ (an OCI layout, tag `base`, one layer).

    Cached under images/base-<release>/; its complete.json is written last inside the .partial directory, which is
    then renamed into place, so a present marker means a whole entry.
    """
    entry = IMAGES_DIR / f"base-{release}"
    key = _base_key(release)
    if _read_marker(entry / "complete.json").get("key") == key:
        return entry
    with _locked(entry.name):
        if _read_marker(entry / "complete.json").get("key") == key:
            return entry
        if os.geteuid() != 0:
            raise ImageBuildError("building the base image needs root (debootstrap, chroot, mount)")
        ensure_image_tools()
        sources = apt_sources()
        mirror = debian_mirror(release, sources)
        partial = IMAGES_DIR / f"{entry.name}.partial"
        _remove(partial)
        rootfs = partial / "rootfs"
        partial.mkdir(parents=True)
        began = time.monotonic()
        logs = IMAGES_DIR / entry.name
        try:
            _step([*NICE, _which("debootstrap") or "debootstrap", "--variant=minbase", release, str(rootfs), mirror],
                  _log(logs, "debootstrap"), f"debootstrap {release}", partial)
            debootstrap_seconds = time.monotonic() - began
            jre = _install_jre(rootfs, chroot_sources(release, sources), _log(logs, "jre"))
        finally:
            _unmount_all(partial)
        jre_seconds = time.monotonic() - began - debootstrap_seconds
        layer_began = time.monotonic()
        layout = partial / "oci"
        _step(["umoci", "init", "--layout", str(layout)], _log(logs, "umoci-init"), "umoci init", partial)
        _step(["umoci", "new", "--image", f"{layout}:base"], _log(logs, "umoci-new"), "umoci new", partial)
        _step([*NICE, "umoci", "insert", "--image", f"{layout}:base",
               "--history.created_by=debootstrap --variant=minbase + " + JRE_PACKAGE, str(rootfs), "/"],
              _log(logs, "layer"), f"base layer of {release}", partial)
        _step(["umoci", "config", "--image", f"{layout}:base", *umoci_config_args(base_config())],
              _log(logs, "umoci-config"), "umoci config", partial)
        _write_marker(partial / "complete.json", {
            "key": key, "release": release, "mirror": mirror, "jre": jre, "rootfs_bytes": _dir_bytes(rootfs),
            "layer_bytes": _dir_bytes(layout / "blobs"), "debootstrap_seconds": round(debootstrap_seconds, 1),
            "jre_seconds": round(jre_seconds, 1), "layer_seconds": round(time.monotonic() - layer_began, 1)})
        _remove(entry)
        partial.rename(entry)
    return entry


def _install_jre(rootfs: Path, sources: str, log: Path) -> str:
    """apt-get install the JRE inside `rootfs`; returns `java -version`'s first line. /proc is mounted meanwhile
    (ca-certificates-java's postinst runs java, which needs it) and unmounted by the caller's _unmount_all."""
    (rootfs / "etc/apt/sources.list").write_text(sources)
    policy = rootfs / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# No daemons start while the image is built.\nexit 101\n")
    policy.chmod(0o755)
    subprocess.run(["mount", "-t", "proc", "proc", str(rootfs / "proc")], check=True)
    script = (f"apt-get -q update && apt-get -q install -y --no-install-recommends {JRE_PACKAGE} && apt-get clean"
              " && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/cache/debconf/*-old"
              " && java -version")
    _step([*NICE, "env", "DEBIAN_FRONTEND=noninteractive", f"PATH={PATH}", "chroot", str(rootfs), "/bin/sh", "-c",
           script], log, f"{JRE_PACKAGE} in the rootfs", rootfs.parent)
    lines = log.read_text(errors="replace").splitlines()
    version = next((line for line in lines if line.startswith("openjdk version")), "")
    policy.unlink()
    # The build host's name and resolver do not belong in an image: the runtime provides its own.
    for name in ("etc/resolv.conf", "etc/hostname"):
        with contextlib.suppress(FileNotFoundError):
            (rootfs / name).unlink()
    (rootfs / "etc/hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    return version.strip()


# --------------------------------------------------------------------------- derived images


def _link_dir(source: Path, target: Path) -> None:
    """`target` gets every file of the flat directory `source`, hard-linked (the cache is one file system)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file():
            try:
                os.link(path, target / path.name)
            except OSError:
                shutil.copy2(path, target / path.name)


def _copy_layout(source: Path, target: Path) -> None:
    # Blobs are content-addressed and never rewritten: links cost nothing. index.json is rewritten: a copy.
    (target / "blobs" / "sha256").mkdir(parents=True)
    for blob in (source / "blobs" / "sha256").iterdir():
        os.link(blob, target / "blobs" / "sha256" / blob.name)
    for name in ("index.json", "oci-layout"):
        shutil.copy2(source / name, target / name)


def _derived_image(name: str, reference: str, key: str, base: Path, *, config: dict[str, Any],
                   fill: Callable[[Path], None]) -> Path:
    """images/<name>.oci.tar: the base layout + one layer made by fill(dir) + `config`, tagged `reference`.

    The archive is written to .partial and renamed; <name>.json (the marker) follows it.
    """
    archive = IMAGES_DIR / f"{name}.oci.tar"
    marker = IMAGES_DIR / f"{name}.json"
    if archive.is_file() and _read_marker(marker).get("key") == key:
        return archive
    with _locked(name):
        if archive.is_file() and _read_marker(marker).get("key") == key:
            return archive
        ensure_image_tools(("umoci", "skopeo"))
        work = IMAGES_DIR / f"{name}.partial"
        partial_archive = IMAGES_DIR / f"{name}.oci.tar.partial"
        _remove(work)
        _remove(partial_archive)
        began = time.monotonic()
        layout, layer = work / "oci", work / "layer"
        _copy_layout(base / "oci", layout)
        fill(layer)
        logs = IMAGES_DIR / name
        _step([*NICE, "umoci", "insert", "--image", f"{layout}:base", f"--history.created_by=pinotops test bed: {name}",
               str(layer), "/"], _log(logs, "layer"), f"layer of {name}", work)
        _step(["umoci", "config", "--image", f"{layout}:base", "--tag", "image", *umoci_config_args(config)],
              _log(logs, "umoci-config"), f"config of {name}", work)
        layer_seconds = time.monotonic() - began
        # --insecure-policy: a local layout to a local file; no signature policy applies (and none is installed).
        _step([*NICE, "env", f"TMPDIR={work}", "skopeo", "--insecure-policy", "copy", "--quiet",
               f"oci:{layout}:image", f"oci-archive:{partial_archive}:{reference}"],
              _log(logs, "archive"), f"archive of {name}", work)
        layer_bytes = _dir_bytes(layout / "blobs") - _dir_bytes(base / "oci" / "blobs")
        _remove(archive)
        partial_archive.rename(archive)
        _write_marker(marker, {"key": key, "reference": reference, "archive_bytes": archive.stat().st_size,
                               "layer_bytes": layer_bytes, "layer_seconds": round(layer_seconds, 1),
                               "archive_seconds": round(time.monotonic() - began - layer_seconds, 1)})
        _remove(work)
    return archive


def _install(source: Path, target: Path, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(mode)


def pinot_files() -> list[Path]:
    return [FILES / "pinot" / "pinot-admin.sh"] + [FILES / "pinot" / f"pinot-{r}-log4j2.xml" for r in PINOT_ROLES]


def jmx_exporter_config() -> Path:
    """The test bed's exporter rules for Pinot's metrics, one file for every role."""
    return FILES / "pinot" / "jmx_prometheus_javaagent" / "pinot.yml"


def ensure_jmx_exporter() -> Path:
    """The JMX exporter's agent jar, downloaded from Maven Central once (cached under jmx-exporter/<version>/lib)."""
    group, artifact, version = JMX_EXPORTER
    lib = pinot._maven_lib(pinot.CACHE_DIR / "jmx-exporter" / version, [JMX_EXPORTER], [])
    jar = lib / f"{artifact}-{version}.jar"
    if not jar.is_file():
        raise ImageBuildError(f"{group}:{artifact}:{version} resolved without {jar.name} in {lib}")
    return jar


def install_jmx_exporter(jar: Path, config: Path, home: Path) -> None:
    """The official image's layout under `home` (/opt/pinot/etc/jmx_prometheus_javaagent in the layer): the versioned
    jar, jmx_prometheus_javaagent.jar linked to it, and `config` as configs/pinot.yml and configs/<role>.yml."""
    home.mkdir(parents=True, exist_ok=True)
    try:
        os.link(jar, home / jar.name)
    except OSError:
        shutil.copy2(jar, home / jar.name)
    (home / "jmx_prometheus_javaagent.jar").symlink_to(jar.name)
    for name in JMX_EXPORTER_CONFIGS:
        _install(config, home / "configs" / name, 0o644)


def pinot_image(version: str, release: str = "bookworm") -> Path:
    """OCI archive `docker.io/apachepinot/pinot:<version>`: base + /opt/pinot/{lib,plugins,etc/conf,bin}, the S3 file
    system plugin under plugins/ and the JMX exporter's agent under etc/jmx_prometheus_javaagent/ as in the official
    image."""
    lib = pinot.ensure_pinot(version)
    plugins = pinot.ensure_s3_plugin(version)
    agent = ensure_jmx_exporter()
    base = base_image(release)
    files = pinot_files()
    exporter_config = jmx_exporter_config()
    config = pinot_config(version)
    key = pinot_image_key(release, lib_marker=(lib.parent / "complete.json").read_text(), files=files, config=config,
                          plugins_marker=(plugins.parent / "plugins.json").read_text(), exporter_config=exporter_config)

    def fill(layer: Path) -> None:
        home = layer / "opt" / "pinot"
        _link_dir(lib, home / "lib")
        # Pinot's layout (plugins/pinot-file-system/pinot-s3/*.jar); the other plugins are on lib/ already.
        for directory in sorted({jar.parent for jar in plugins.rglob("*.jar")}):
            _link_dir(directory, home / "plugins" / directory.relative_to(plugins))
        for path in files[1:]:
            _install(path, home / "etc" / "conf" / path.name, 0o644)
        _install(files[0], home / "bin" / "pinot-admin.sh", 0o755)
        install_jmx_exporter(agent, exporter_config, layer / JMX_EXPORTER_HOME)

    return _derived_image(f"pinot-{version}", f"{PINOT_REPOSITORY}:{version}", key, base, config=config, fill=fill)


def pinot_image_key(release: str, *, lib_marker: str, files: list[Path], config: dict[str, Any],
                    plugins_marker: str, exporter_config: Path) -> str:
    """The Pinot image's cache key: a change of the base, the jars, the image files, the OCI config, the JMX
    exporter's version or its config builds the image again."""
    return _key(RECIPE, _base_key(release), lib_marker, _files_digest(files), config, plugins_marker,
                ":".join(JMX_EXPORTER), _files_digest([exporter_config]))


# What ZooKeeper's binary distribution adds to the server's classpath (provided/optional in its POM, so not in the
# runtime closure): the logging backend (else SLF4J drops every line), the AdminServer (Jetty, Jackson), zkCli's
# jline and commons-cli, Dropwizard metrics, snappy. (group, artifact, version property of ZooKeeper's parent POM)
ZOOKEEPER_EXTRAS = [
    ("ch.qos.logback", "logback-classic", "logback-version"),
    ("org.eclipse.jetty", "jetty-server", "jetty.version"),
    ("org.eclipse.jetty", "jetty-servlet", "jetty.version"),
    ("com.fasterxml.jackson.core", "jackson-databind", "jackson.version"),
    ("commons-cli", "commons-cli", "commons-cli.version"),
    ("jline", "jline", "jline.version"),
    ("io.dropwizard.metrics", "metrics-core", "dropwizard.version"),
    ("org.xerial.snappy", "snappy-java", "snappy.version"),
]


def pom_properties(pom: Path) -> dict[str, str]:
    root = ET.parse(pom).getroot()
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    properties = root.find(f"{namespace}properties")
    if properties is None:
        return {}
    return {child.tag[len(namespace):]: (child.text or "").strip() for child in properties}


def zookeeper_lib(version: str) -> Path:
    """ZooKeeper's classpath as its binary distribution has it, from Maven Central.

    First the server's runtime closure (which also brings ZooKeeper's parent POM into the local repository), then
    that plus ZOOKEEPER_EXTRAS at the versions the parent POM pins, with the parent as BOM for their dependencies.
    """
    server = ("org.apache.zookeeper", "zookeeper", version)
    pinot._maven_lib(pinot.CACHE_DIR / "zookeeper" / version, [server], [])
    parent = pinot.CACHE_DIR / "m2" / "org" / "apache" / "zookeeper" / "parent" / version / f"parent-{version}.pom"
    pins = pom_properties(parent)
    missing = sorted({extra[2] for extra in ZOOKEEPER_EXTRAS if not pins.get(extra[2])})
    if missing:
        raise ImageBuildError(f"ZooKeeper {version}'s parent POM pins no {', '.join(missing)}")
    extras = [(group, artifact, pins[prop]) for group, artifact, prop in ZOOKEEPER_EXTRAS]
    return pinot._maven_lib(pinot.CACHE_DIR / "zookeeper" / f"{version}-dist", [server, *extras], [],
                            bom=("org.apache.zookeeper", "parent", version))


def with_user(passwd: str, group: str, name: str, uid: int) -> tuple[str, str]:
    """/etc/passwd and /etc/group texts with a system-less user `name` (uid = gid = `uid`) added once."""
    if not any(line.split(":", 1)[0] == name for line in passwd.splitlines()):
        passwd = passwd.rstrip("\n") + f"\n{name}:x:{uid}:{uid}::/home/{name}:/usr/sbin/nologin\n"
    if not any(line.split(":", 1)[0] == name for line in group.splitlines()):
        group = group.rstrip("\n") + f"\n{name}:x:{uid}:\n"
    return passwd, group


def zookeeper_files() -> list[Path]:
    return [FILES / "zookeeper" / n for n in ("docker-entrypoint.sh", "zkServer.sh", "logback.xml")]


def zookeeper_image(version: str = "3.9.3", release: str = "bookworm") -> Path:
    """OCI archive `docker.io/library/zookeeper:<version>`: base + ZooKeeper's jars + the entrypoint contract."""
    lib = zookeeper_lib(version)
    base = base_image(release)
    files = zookeeper_files()
    config = zookeeper_config(version)
    key = _key(RECIPE, _base_key(release), (lib.parent / "complete.json").read_text(), _files_digest(files), config,
               ZOOKEEPER_UID)

    def fill(layer: Path) -> None:
        home = layer / zookeeper_home(version).lstrip("/")
        _link_dir(lib, home / "lib")
        _install(files[0], layer / "docker-entrypoint.sh", 0o755)
        _install(files[1], home / "bin" / "zkServer.sh", 0o755)
        _install(files[2], layer / "conf" / "logback.xml", 0o644)
        passwd, group = with_user((base / "rootfs/etc/passwd").read_text(), (base / "rootfs/etc/group").read_text(),
                                  "zookeeper", ZOOKEEPER_UID)
        (layer / "etc").mkdir()
        (layer / "etc/passwd").write_text(passwd)
        (layer / "etc/group").write_text(group)
        (layer / "etc/passwd").chmod(0o644)
        (layer / "etc/group").chmod(0o644)
        # Writable by the server's user also when a pod runs as uid 1000 from the start.
        for name in ("conf", "data", "datalog", "logs", "home/zookeeper"):
            (layer / name).mkdir(parents=True, exist_ok=True)
            os.chown(layer / name, ZOOKEEPER_UID, ZOOKEEPER_UID)

    return _derived_image(f"zookeeper-{version}", f"{ZOOKEEPER_REPOSITORY}:{version}", key, base, config=config,
                          fill=fill)


# --------------------------------------------------------------------------- containerd


def build_all(pinot_versions: tuple[str, ...] = (pinot.PRIMARY_VERSION,), zookeeper: str = "3.9.3") -> dict[str, Path]:
    """Every image the real node runs, as reference -> archive: one Pinot image per version, ZooKeeper."""
    built = {f"{PINOT_REPOSITORY}:{v}": pinot_image(v) for v in pinot_versions}
    built[f"{ZOOKEEPER_REPOSITORY}:{zookeeper}"] = zookeeper_image(zookeeper)
    return built


if __name__ == "__main__":
    import sys

    for ref, archive in build_all(tuple(sys.argv[1:]) or (pinot.PRIMARY_VERSION,)).items():
        marker = archive.with_name(archive.name.removesuffix(".oci.tar") + ".json")
        print(ref, archive, json.dumps(_read_marker(marker)))
