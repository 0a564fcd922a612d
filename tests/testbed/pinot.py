"""A real Apache Pinot cluster for tests: jars from Maven Central, one JVM per component on 127.0.0.1.

Stdlib only, so the Makefile and CI can use it before any virtualenv exists.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import fcntl
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.testbed import pinot_build
from tests.testbed.ports import free_port, free_ports
from tests.testbed.progress import last_line, run_with_progress

CACHE_DIR = Path(os.environ.get("PINOTOPS_TESTBED_CACHE", Path.home() / ".cache" / "pinotops-testbed"))
CENTRAL = "https://repo.maven.apache.org/maven2"
# 1.x: Central serves pinot-spi/-common/-core/-broker; the rest is built from shared/pinot-source (pinot_build).
# 0.11.0, whose whole runtime Central serves, stays selectable.
# The first is the primary version: the whole suite runs on it, the upgrade-relevant subset on the others.
DEFAULT_VERSIONS = "1.5.1 1.4.0"
PRIMARY_VERSION = DEFAULT_VERSIONS.split(maxsplit=1)[0]
CLUSTER_NAME = "PinotCluster"
HOST = "127.0.0.1"
STATE_FILE = "state.json"
ADMIN_MAIN = "org.apache.pinot.tools.admin.PinotAdministrator"
KAFKA_MAIN = "kafka.Kafka"
# An S3 API server that Central serves (Apache 2.0; jclouds' filesystem backend).
S3PROXY = ("org.gaul", "s3proxy", "2.6.0")
S3PROXY_MAIN = "org.gaul.s3proxy.Main"
# Where Pinot's binary distribution keeps the plugin (plugins.dir is its root), and its file system class.
S3_PLUGIN_DIR = Path("pinot-file-system", "pinot-s3")
S3_FS_CLASS = "org.apache.pinot.plugin.filesystem.S3PinotFS"

# Not needed to run controller/broker/server/minion, and some are not on Central at all
# (pinot-confluent-avro pulls io.confluent from Confluent's own repository; pinot-orc 0.11.0 has no jar).
# Kafka plugins stay: they carry the Kafka broker classes the test bed runs as well.
EXCLUDED_DEPENDENCIES = [
    ("org.apache.pinot", "pinot-confluent-avro"),
    ("org.apache.pinot", "pinot-confluent-json"),
    ("org.apache.pinot", "pinot-confluent-protobuf"),
    ("org.apache.pinot", "pinot-orc"),
    ("org.apache.pinot", "pinot-parquet"),
    ("org.apache.pinot", "pinot-thrift"),
    ("org.apache.pinot", "pinot-protobuf"),
    ("org.apache.pinot", "pinot-kinesis"),
    ("org.apache.pinot", "pinot-pulsar"),
    ("org.apache.pinot", "pinot-s3"),
    ("io.confluent", "*"),
    ("org.apache.hadoop", "*"),
    ("org.apache.spark", "*"),
    ("software.amazon.awssdk", "*"),
]


def producer_args(topic: str) -> list[str]:
    return ["--topic", topic, "--producer-property", "acks=all", "--producer-property", "linger.ms=0"]


# JDK 17 needs the opens of Pinot's own launcher script; serial GC and C1-only JIT keep
# four to six JVMs within two cores and a few GiB.
JVM_FLAGS = [
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xss512k",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "-Dpinot.admin.system.exit=true",
    "-Dzookeeper.admin.enableServer=false",
]
HEAP = {"zookeeper": ("64m", "256m"), "kafka": ("128m", "512m")}
DEFAULT_HEAP = ("128m", "768m")

LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="console" target="SYSTEM_OUT">
      <PatternLayout pattern="%d{HH:mm:ss.SSS} %-5p [%c{1}] %m%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="warn"><AppenderRef ref="console"/></Root>
    <!-- Helix logs an ERROR per rebalance while the cluster has no instances: noise. -->
    <Logger name="org.apache.helix" level="fatal"/>
    <Logger name="org.apache.pinot.tools.admin" level="info"/>
  </Loggers>
</Configuration>
"""
# Kafka 2.x/3.x brokers log through log4j 1.x (reload4j in 3.x).
KAFKA_LOG4J = """log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=%d{HH:mm:ss,SSS} %-5p [%c{1}] %m%n
log4j.logger.kafka.server.KafkaServer=INFO
"""
# s3proxy ships no logging config: logback would log every request at DEBUG.
S3PROXY_LOGBACK = """<configuration>
  <appender name="console" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%logger{0}] %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="console"/></root>
  <logger name="org.gaul.s3proxy" level="INFO"/>
</configuration>
"""


class PinotUnavailable(RuntimeError):
    """The requested Pinot version cannot be assembled from the reachable Maven repository."""


class ClusterError(RuntimeError):
    """A component did not start or stop as expected."""


# --------------------------------------------------------------------------- jars


def _pom(artifacts: list[tuple[str, str, str]], exclusions: list[tuple[str, str]],
         bom: tuple[str, str, str] | None = None) -> str:
    excluded = "".join(
        f"<exclusion><groupId>{g}</groupId><artifactId>{a}</artifactId></exclusion>" for g, a in exclusions)
    managed = "" if bom is None else f"""
  <dependencyManagement><dependencies><dependency>
    <groupId>{bom[0]}</groupId><artifactId>{bom[1]}</artifactId><version>{bom[2]}</version>
    <type>pom</type><scope>import</scope>
  </dependency></dependencies></dependencyManagement>"""
    dependencies = "".join(f"""
    <dependency>
      <groupId>{group}</groupId><artifactId>{name}</artifactId><version>{version}</version>
      <exclusions>{excluded}</exclusions>
    </dependency>""" for group, name, version in artifacts)
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pinotops.testbed</groupId>
  <artifactId>{artifacts[0][1]}-lib</artifactId>
  <version>{artifacts[0][2]}</version>
  <packaging>pom</packaging>{managed}
  <dependencies>{dependencies}
  </dependencies>
</project>
"""


def _settings(local_repo: Path) -> str:
    # mirrorOf * : repositories declared in dependency POMs are never contacted.
    return f"""<settings>
  <localRepository>{local_repo}</localRepository>
  <mirrors>
    <mirror><id>central-only</id><mirrorOf>*</mirrorOf><url>{CENTRAL}</url></mirror>
  </mirrors>
</settings>
"""


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def _maven_lib(root: Path, artifacts: list[tuple[str, str, str]], exclusions: list[tuple[str, str]], *,
               bom: tuple[str, str, str] | None = None,
               build: Callable[[Path], dict[str, Any]] | None = None) -> Path:
    """Copy `artifacts` and their runtime dependencies into root/lib once; root/complete.json marks success.

    `build(settings)`, when given, first installs into the local repository what Central lacks and returns
    figures for the marker; `bom` is a pom whose dependencyManagement pins the versions.
    """
    lib = root / "lib"
    marker = root / "complete.json"
    wanted = " ".join(":".join(artifact) for artifact in artifacts)

    def complete() -> bool:  # and of the same artifacts: a changed set downloads again
        return marker.is_file() and lib.is_dir() and json.loads(marker.read_text()).get("artifact") == wanted

    if complete():
        return lib
    root.mkdir(parents=True, exist_ok=True)
    # Parallel pytest workers or a concurrent `make testbed-up` must not download into the same dir.
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if complete():
            return lib
        if shutil.which("mvn") is None:
            raise PinotUnavailable("Maven (mvn) is not installed")
        (root / "pom.xml").write_text(_pom(artifacts, exclusions, bom))
        (root / "settings.xml").write_text(_settings(CACHE_DIR / "m2"))
        built = build(root / "settings.xml") if build else {}
        staging = root / "lib.partial"
        shutil.rmtree(staging, ignore_errors=True)
        log = root / "maven.log"
        started = time.monotonic()
        rc = run_with_progress(
            ["mvn", "-B", "-U", "-s", str(root / "settings.xml"), "-f", str(root / "pom.xml"),
             "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
            log, f"resolving the runtime classpath of {wanted}", root,
            detail=lambda path: last_line(path, "[INFO] Download").removeprefix("[INFO] ")[:100])
        seconds = round(time.monotonic() - started, 1)
        if rc != 0:
            text = log.read_text(errors="replace")
            missing = re.findall(r"Could not find artifact (\S+)", text) or re.findall(r"\[ERROR\] (.+)", text)[:1]
            raise PinotUnavailable(
                f"{wanted} cannot be resolved from {CENTRAL}: {'; '.join(sorted(set(missing))) or log}"
            )
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)
        marker.write_text(json.dumps({"artifact": wanted, "jars": len(list(lib.glob("*.jar"))),
                                      "bytes": _dir_size(lib), "download_seconds": seconds, **built}, indent=1))
    return lib


def ensure_pinot(version: str) -> Path:
    """Return the lib directory holding every runtime jar of Pinot `version`, assembling it once.

    Versions with source in shared/pinot-source get their missing modules built first; their pinot-tools pom
    is already trimmed of the plugins a local cluster does not need, and Pinot's root pom pins the versions
    (without it 1.4.0 resolves ZooKeeper 3.4 and an old Jackson and does not start).
    """
    root = CACHE_DIR / "pinot" / version
    tools = [("org.apache.pinot", "pinot-tools", version)]
    if not pinot_build.has_source(version):
        return _maven_lib(root, tools, EXCLUDED_DEPENDENCIES)

    def build(settings: Path) -> dict[str, Any]:
        try:
            return {"build_seconds": pinot_build.install_from_source(version, root / "build", settings)}
        except pinot_build.SourceUnavailable as exc:
            raise PinotUnavailable(str(exc)) from None

    return _maven_lib(root, tools, [], bom=("org.apache.pinot", "pinot", version), build=build)


def ensure_kafka(pinot_lib: Path) -> Path:
    """The Kafka broker Pinot's Kafka plugin was built against, on its own classpath.

    Pinot's classpath pins older libraries (jopt-simple 4.6) than kafka.Kafka needs, so the broker
    gets the dependency set of its own POM, like a Kafka distribution.
    """
    found = sorted(pinot_lib.glob("kafka_2.1[0-9]-*.jar"))
    if found:
        scala, version = re.match(r"kafka_(2\.1\d)-(.+)\.jar", found[-1].name).groups()
    else:
        clients = sorted(pinot_lib.glob("kafka-clients-*.jar"))
        if not clients:
            raise PinotUnavailable(f"no Kafka stream plugin in {pinot_lib}")
        scala, version = "2.13", clients[-1].name[len("kafka-clients-"):-len(".jar")]
    major_minor = tuple(int(part) for part in version.split(".")[:2])
    if major_minor >= (4, 0):
        raise PinotUnavailable(f"Kafka {version} has no ZooKeeper mode; the test bed runs Kafka on Pinot's ZooKeeper")
    artifacts = [("org.apache.kafka", f"kafka_{scala}", version)]
    if major_minor >= (3, 5):  # where TopicCommand moved to kafka-tools
        artifacts.append(("org.apache.kafka", "kafka-tools", version))
    return _maven_lib(CACHE_DIR / "kafka" / f"{scala}-{version}", artifacts, [])


def ensure_s3_plugin(version: str) -> Path:
    """A plugins dir for Pinot `version` holding pinot-file-system/pinot-s3/*.jar, built once.

    The binary distribution ships the plugin as one shaded jar; the test bed has pinot-s3 built unshaded and puts
    beside it the jars of its runtime closure that Pinot's lib lacks (the AWS SDK and its clients), resolved with
    Pinot's root pom as BOM so that what both need is the very same jar.
    """
    pinot_lib = ensure_pinot(version)
    if not pinot_build.has_source(version):
        raise PinotUnavailable(f"no S3 plugin source for Pinot {version}")
    root = CACHE_DIR / "pinot-s3" / version

    def build(settings: Path) -> dict[str, Any]:
        try:
            return {"build_seconds": pinot_build.install_s3_plugin(version, root / "build", settings)}
        except pinot_build.SourceUnavailable as exc:
            raise PinotUnavailable(str(exc)) from None

    lib = _maven_lib(root, [("org.apache.pinot", "pinot-s3", version)], [],
                     bom=("org.apache.pinot", "pinot", version), build=build)
    plugins = root / "plugins"
    marker = root / "plugins.json"
    if marker.is_file():
        return plugins
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file():
            return plugins
        shutil.rmtree(plugins, ignore_errors=True)
        target = plugins / S3_PLUGIN_DIR
        target.mkdir(parents=True)
        on_pinot = {path.name for path in pinot_lib.iterdir()}
        jars = [path for path in lib.glob("*.jar") if path.name not in on_pinot]
        for jar in jars:
            os.link(jar, target / jar.name)
        marker.write_text(json.dumps({"jars": len(jars), "bytes": sum(j.stat().st_size for j in jars)}))
    return plugins


def ensure_s3proxy() -> Path:
    return _maven_lib(CACHE_DIR / "s3proxy" / S3PROXY[2], [S3PROXY], [])


def download_info(version: str) -> dict[str, Any]:
    """What ensure_pinot recorded for `version` (jar count, bytes, cold download seconds)."""
    return json.loads((CACHE_DIR / "pinot" / version / "complete.json").read_text())


# --------------------------------------------------------------------------- helpers


def port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def basic_auth_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def http_get(url: str, auth: dict[str, str] | None = None, timeout: float = 5.0) -> tuple[int, str]:
    """GET `url`; returns (status, body). Connection errors give status 0."""
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", basic_auth_header(auth["username"], auth["password"]))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (OSError, ValueError) as exc:
        return 0, str(exc)


def _properties(values: dict[str, Any]) -> str:
    return "".join(f"{k}={v}\n" for k, v in values.items())


def _set_pdeathsig() -> None:
    # Runs in the child before exec: the JVM gets SIGKILL if the test process dies without cleanup.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def running_pids(workdir: Path) -> list[int]:
    """PIDs of live processes whose command line names `workdir` (every test bed JVM does)."""
    marker = f"-Dpinotops.testbed={Path(workdir).resolve()}"
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and marker in _cmdline(int(entry.name)).split() and _alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def _terminate(pids: list[int], grace: float) -> None:
    """SIGTERM each process group, SIGKILL whatever is still alive after `grace` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)


# --------------------------------------------------------------------------- S3


class S3Server:
    """A real S3 API (s3proxy on jclouds' filesystem backend) with one bucket and a key pair of the test bed's own.

    Listens on `host` (the real node's address when pods must reach it); requests are signed with AWS SigV4.
    """

    def __init__(self, workdir: str | os.PathLike, *, host: str = HOST, bucket: str = "pinot-deep-store",
                 region: str = "us-east-1", die_with_parent: bool = True, start_timeout: float = 120.0) -> None:
        self.workdir = Path(workdir).resolve()
        self.host, self.bucket, self.region = host, bucket, region
        self.die_with_parent, self.start_timeout = die_with_parent, start_timeout
        self.access_key = "testbed" + os.urandom(6).hex()
        self.secret_key = os.urandom(20).hex()
        self.port = free_port(host)
        self.pid: int | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "s3proxy.log"

    def start(self) -> S3Server:
        lib = ensure_s3proxy()
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "s3proxy.properties"
        conf.write_text(_properties({
            "s3proxy.endpoint": self.endpoint, "s3proxy.authorization": "aws-v2-or-v4",
            "s3proxy.identity": self.access_key, "s3proxy.credential": self.secret_key,
            "jclouds.provider": "filesystem", "jclouds.filesystem.basedir": data}))
        conf.chmod(0o600)
        (self.workdir / "logback.xml").write_text(S3PROXY_LOGBACK)
        command = ["java", "-Xms32m", "-Xmx256m", *JVM_FLAGS[:3], f"-Dpinotops.testbed={self.workdir}",
                   f"-Dlogback.configurationFile={self.workdir / 'logback.xml'}",
                   f"-Djava.io.tmpdir={self.workdir}", "-cp", f"{lib}/*", S3PROXY_MAIN, "--properties", str(conf)]
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir,
                start_new_session=True, preexec_fn=_set_pdeathsig if self.die_with_parent else None)  # noqa: PLW1509
        self.pid = self._proc.pid
        deadline = time.monotonic() + self.start_timeout
        try:
            while not port_open(self.port, self.host):
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    raise ClusterError(f"s3proxy did not start; log tail:\n{self.log_file.read_text()[-3000:]}")
                time.sleep(0.3)
            status, body = self.request("PUT", f"/{self.bucket}")
            if status != 200:
                raise ClusterError(f"creating bucket {self.bucket}: {status} {body[:500]}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, grace: float = 10.0) -> None:
        _terminate([p for p in [self.pid, *running_pids(self.workdir)] if p], grace)
        if self._proc is not None:
            self._proc.poll()
        self.pid = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def request(self, method: str, path: str, query: dict[str, str] | None = None,
                body: bytes = b"") -> tuple[int, str]:
        """A request signed with AWS Signature Version 4 (what the AWS SDK sends too)."""
        query = query or {}
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        payload = hashlib.sha256(body).hexdigest()
        headers = {"host": f"{self.host}:{self.port}", "x-amz-content-sha256": payload, "x-amz-date": stamp}
        signed = ";".join(sorted(headers))
        encoded = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                           for k, v in sorted(query.items()))
        canonical = "\n".join([method, urllib.parse.quote(path, safe="/-_.~"), encoded,
                               *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed, payload])
        scope = f"{stamp[:8]}/{self.region}/s3/aws4_request"
        text = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + self.secret_key).encode()
        for part in (stamp[:8], self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
        request = urllib.request.Request(f"{self.endpoint}{path}{'?' + encoded if encoded else ''}", data=body or None,
                                         method=method)
        for name, value in headers.items():
            request.add_header(name, value)
        request.add_header("Authorization", f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                           f"SignedHeaders={signed}, Signature={signature}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key under `prefix` in the bucket (ListObjectsV2, page by page)."""
        found: list[str] = []
        token = None
        while True:
            query = {"list-type": "2", "prefix": prefix, **({"continuation-token": token} if token else {})}
            status, body = self.request("GET", f"/{self.bucket}", query)
            if status != 200:
                raise ClusterError(f"listing {self.bucket}/{prefix}: {status} {body[:500]}")
            root = ET.fromstring(body)
            ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            found += [item.findtext(f"{ns}Key") for item in root.iter(f"{ns}Contents")]
            token = root.findtext(f"{ns}NextContinuationToken")
            if not token:
                return found


# --------------------------------------------------------------------------- cluster


class PinotCluster:
    """ZooKeeper, controller, broker, N servers, optional minion and Kafka: each its own JVM and process group.

    pinot=False runs ZooKeeper and Kafka only (a stream for Pinot pods); Kafka listens on `kafka_host`.
    """

    def __init__(self, version: str, workdir: str | os.PathLike, *, servers: int = 2, minion: bool = True,
                 kafka: bool = False, auth: dict[str, str] | None = None, die_with_parent: bool = True,
                 start_timeout: float = 240.0, pinot: bool = True, kafka_host: str = HOST,
                 properties: dict[str, dict[str, Any]] | None = None, env: dict[str, str] | None = None,
                 s3_plugin: bool = False, controllers: int = 1) -> None:
        self.version = version
        self.workdir = Path(workdir).resolve()
        self.auth = dict(auth) if auth else None
        self.die_with_parent = die_with_parent
        self.start_timeout = start_timeout
        self.kafka_host = kafka_host
        # Per role (controller, broker, server, minion), merged last into each component's properties.
        self.properties = {role: dict(values) for role, values in (properties or {}).items()}
        self.env = dict(env or {})  # added to the environment of the Pinot JVMs
        self.s3_plugin = s3_plugin
        self.plugins: Path | None = None
        self.owned = True
        self.lib: Path | None = None
        self.kafka_lib: Path | None = None
        self.components: dict[str, dict[str, Any]] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._plan(servers if pinot else None, minion and pinot, kafka, controllers)

    # ----- layout

    def _plan(self, servers: int | None, minion: bool, kafka: bool, controllers: int) -> None:
        layout = {"zookeeper": ["client"], **({"kafka": ["client"]} if kafka else {})}
        if servers is not None:
            # More controllers are controller-1, ...: they join the Helix cluster the first one creates.
            layout.update({"controller": ["http"], **{f"controller-{i}": ["http"] for i in range(1, controllers)},
                           "broker": ["http", "ms_runner"],
                           **{f"server-{i}": ["netty", "admin", "grpc", "ms_server", "ms_runner"]
                              for i in range(servers)},
                           **({"minion": ["http"]} if minion else {})})
        ports = free_ports([f"{name}/{kind}" for name, kinds in layout.items() for kind in kinds], HOST)
        for name, kinds in layout.items():
            self.components[name] = {"ports": {kind: ports[f"{name}/{kind}"] for kind in kinds}, "pid": None}

    def _port(self, name: str, kind: str) -> int:
        return self.components[name]["ports"][kind]

    @property
    def zk_address(self) -> str:
        return f"{HOST}:{self._port('zookeeper', 'client')}"

    @property
    def controller_url(self) -> str:
        return f"http://{HOST}:{self._port('controller', 'http')}"

    @property
    def broker_url(self) -> str:
        return f"http://{HOST}:{self._port('broker', 'http')}"

    @property
    def kafka_bootstrap(self) -> str | None:
        return f"{self.kafka_host}:{self._port('kafka', 'client')}" if "kafka" in self.components else None

    @property
    def controller_names(self) -> list[str]:
        return [n for n in self.components if n.split("-", maxsplit=1)[0] == "controller"]

    def controller_url_of(self, name: str) -> str:
        return f"http://{HOST}:{self._port(name, 'http')}"

    @property
    def server_names(self) -> list[str]:
        return [n for n in self.components if n.startswith("server-")]

    @property
    def server_admin_urls(self) -> list[str]:
        return [f"http://{HOST}:{self._port(n, 'admin')}" for n in self.server_names]

    @property
    def minion_url(self) -> str | None:
        return f"http://{HOST}:{self._port('minion', 'http')}" if "minion" in self.components else None

    @property
    def instances(self) -> list[str]:
        """Helix instance names as the controller lists them in GET /instances."""
        if "controller" not in self.components:
            return []
        names = [f"Controller_{HOST}_{self._port(n, 'http')}" for n in self.controller_names]
        names.append(f"Broker_{HOST}_{self._port('broker', 'http')}")
        names += [f"Server_{HOST}_{self._port(n, 'netty')}" for n in self.server_names]
        if "minion" in self.components:
            names.append(f"Minion_{HOST}_{self._port('minion', 'http')}")
        return names

    @property
    def kafka_consumer_factory(self) -> str:
        """streamConfigs consumer factory class of the Kafka plugin this Pinot version ships."""
        assert self.lib is not None
        if list(self.lib.glob("pinot-kafka-3.*.jar")):
            return "org.apache.pinot.plugin.stream.kafka30.KafkaConsumerFactory"
        return "org.apache.pinot.plugin.stream.kafka20.KafkaConsumerFactory"

    def component_dir(self, name: str) -> Path:
        return self.workdir / name

    def log_file(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    # ----- configuration

    def _auth_token(self) -> str | None:
        return basic_auth_header(self.auth["username"], self.auth["password"]) if self.auth else None

    def _config(self, name: str) -> dict[str, Any]:
        """The properties file of a Pinot component: the test bed's, then those given for its role."""
        return {**self._own_config(name), **self.properties.get(name.split("-", maxsplit=1)[0], {})}

    def _own_config(self, name: str) -> dict[str, Any]:
        """Every port and directory is explicit."""
        d = self.component_dir(name)
        base = {"pinot.zk.server": self.zk_address, "pinot.cluster.name": CLUSTER_NAME}
        token = self._auth_token()
        if name in self.controller_names:
            port = self._port(name, "http")
            conf = {
                "controller.zk.str": self.zk_address, "controller.helix.cluster.name": CLUSTER_NAME,
                "controller.host": HOST, "controller.port": port, "controller.vip.host": HOST,
                "controller.vip.port": port, "controller.data.dir": d / "data",
                "controller.local.temp.dir": d / "tmp", "cluster.tenant.isolation.enable": "true",
            }
            if self.auth:
                user = self.auth["username"]
                conf.update({
                    "controller.admin.access.control.factory.class":
                        "org.apache.pinot.controller.api.access.BasicAuthAccessControlFactory",
                    "controller.admin.access.control.principals": user,
                    f"controller.admin.access.control.principals.{user}.password": self.auth["password"],
                    "pinot.controller.segment.fetcher.auth.token": token,
                })
            return conf
        if name == "broker":
            # The default 10 s shutdown delay (draining queries) only slows test restarts down.
            return {**base, "pinot.broker.hostname": HOST, "pinot.broker.client.queryPort": self._port(name, "http"),
                    "pinot.query.runner.port": self._port(name, "ms_runner"), "pinot.broker.delayShutdownTimeMs": 1000}
        if name.startswith("server-"):
            conf = {
                **base, "pinot.server.netty.host": HOST, "pinot.server.netty.port": self._port(name, "netty"),
                "pinot.server.adminapi.port": self._port(name, "admin"),
                "pinot.server.grpc.port": self._port(name, "grpc"),
                "pinot.query.server.port": self._port(name, "ms_server"),
                "pinot.query.runner.port": self._port(name, "ms_runner"),
                "pinot.server.instance.dataDir": d / "index", "pinot.server.instance.segmentTarDir": d / "segmentTar",
                # Shutdown checks default to a 10-minute budget; stay inside stop()'s grace period.
                "pinot.server.shutdown.timeoutMs": 10000,
            }
            if token:
                conf.update({"pinot.server.segment.fetcher.auth.token": token,
                             "pinot.server.segment.uploader.auth.token": token,
                             "pinot.server.instance.auth.token": token})
            return conf
        if name == "minion":
            conf = {**base, "pinot.minion.host": HOST, "pinot.minion.port": self._port(name, "http")}
            if token:
                # Older minions read the unprefixed keys, newer ones the pinot.minion.* ones.
                for key in ("segment.fetcher.auth.token", "task.auth.token"):
                    conf[key] = token
                    conf[f"pinot.minion.{key}"] = token
            return conf
        raise KeyError(name)

    def _kafka_properties(self) -> dict[str, Any]:
        listener = f"PLAINTEXT://{self.kafka_bootstrap}"
        return {
            "broker.id": 0, "listeners": listener, "advertised.listeners": listener,
            "log.dirs": self.component_dir("kafka") / "data", "zookeeper.connect": f"{self.zk_address}/kafka",
            "num.partitions": 1, "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1, "transaction.state.log.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0, "auto.create.topics.enable": "false",
        }

    def _command(self, name: str) -> list[str]:
        d = self.component_dir(name)
        xms, xmx = HEAP.get(name, DEFAULT_HEAP)
        jvm = ["java", f"-Xms{xms}", f"-Xmx{xmx}", *JVM_FLAGS,
               f"-Dpinotops.testbed={self.workdir}", f"-Dpinotops.component={name}",
               f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.xml'}",
               f"-Dlog4j.configuration=file:{self.workdir / 'kafka-log4j.properties'}",
               # Anything a component writes to its default temp location stays in its own dir.
               f"-Djava.io.tmpdir={d / 'tmp'}", "-cp"]
        if name == "kafka":
            return jvm + [f"{self.kafka_lib}/*", KAFKA_MAIN, str(d / "server.properties")]
        if name == "zookeeper":
            jvm.append(f"{self.lib}/*")
            return jvm + [ADMIN_MAIN, "StartZookeeper", "-zkPort", str(self._port(name, "client")),
                          "-dataDir", str(d / "data")]
        if self.plugins:
            # As Pinot's own launcher: plugins.dir for the PluginManager, and every plugin jar on the classpath.
            plugin_dirs = sorted({jar.parent for jar in self.plugins.rglob("*.jar")})
            classpath = ":".join([f"{self.lib}/*", *(f"{d}/*" for d in plugin_dirs)])
            jvm[-1:] = [f"-Dplugins.dir={self.plugins}", "-cp", classpath]
        else:
            jvm.append(f"{self.lib}/*")
        command = {"controller": "StartController", "broker": "StartBroker", "minion": "StartMinion"}
        return jvm + [ADMIN_MAIN, command.get(name.split("-", maxsplit=1)[0], "StartServer"), "-configFileName",
                      str(d / "pinot.properties")]

    def _prepare(self, name: str) -> None:
        d = self.component_dir(name)
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        if name == "kafka":
            (d / "server.properties").write_text(_properties(self._kafka_properties()))
        elif name != "zookeeper":
            (d / "pinot.properties").write_text(_properties(self._config(name)))

    # ----- health

    def _healthy(self, name: str) -> bool:
        if name == "zookeeper":
            return port_open(self._port(name, "client"))
        if name == "kafka":
            return port_open(self._port(name, "client"), self.kafka_host)
        if name in self.controller_names:
            return http_get(self.controller_url_of(name) + "/health")[0] == 200
        if name == "broker":
            return http_get(self.broker_url + "/health")[0] == 200
        if name == "minion":
            return http_get(self.minion_url + "/health")[0] == 200
        return http_get(f"http://{HOST}:{self._port(name, 'admin')}/health/readiness")[0] == 200

    def _wait(self, names: list[str], deadline: float) -> None:
        pending = list(names)
        while pending:
            for name in list(pending):
                proc = self._procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise ClusterError(f"{name} exited with {proc.returncode}; log tail:\n{self._tail(name)}")
                if self._healthy(name):
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise ClusterError(f"{', '.join(pending)} not healthy in time; log tail:\n"
                                   + "\n".join(self._tail(n) for n in pending))
            if pending:
                time.sleep(0.5)

    def _wait_registered(self, deadline: float) -> None:
        expected = set(self.instances)
        while True:
            status, body = http_get(self.controller_url + "/instances", self.auth)
            if status == 200 and expected <= set(json.loads(body).get("instances", [])):
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"controller lists {body!r}, expected {sorted(expected)}")
            time.sleep(0.5)

    def _tail(self, name: str, lines: int = 25) -> str:
        try:
            return f"--- {name}\n" + "\n".join(self.log_file(name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"--- {name}: no log"

    # ----- processes

    def _launch(self, name: str) -> None:
        # Popen from the calling thread only: PR_SET_PDEATHSIG fires when the *thread* that forked exits.
        self._prepare(name)
        self.log_file(name).parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file(name), "ab") as log:
            proc = subprocess.Popen(
                self._command(name), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.component_dir(name), start_new_session=True,
                env={**os.environ, **self.env} if name not in ("zookeeper", "kafka") else None,
                preexec_fn=_set_pdeathsig if self.die_with_parent else None,  # noqa: PLW1509 - prctl only
            )
        self._procs[name] = proc
        self.components[name]["pid"] = proc.pid
        self._write_state()

    def start(self) -> PinotCluster:
        if shutil.which("java") is None:
            raise PinotUnavailable("java is not installed")
        self.lib = ensure_pinot(self.version)
        if self.s3_plugin:
            self.plugins = ensure_s3_plugin(self.version)
        if "kafka" in self.components:
            self.kafka_lib = ensure_kafka(self.lib)
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "log4j2.xml").write_text(LOG4J2_XML)
        (self.workdir / "kafka-log4j.properties").write_text(KAFKA_LOG4J)
        began = time.monotonic()
        deadline = began + self.start_timeout
        try:
            self._launch("zookeeper")
            self._wait(["zookeeper"], deadline)
            # The controller creates the Helix cluster that broker, servers and minion join.
            first = [n for n in ("controller", "kafka") if n in self.components]
            for name in first:
                self._launch(name)
            self._wait(first[:1], deadline)
            rest = [n for n in self.components if n not in ("zookeeper", "kafka", "controller")]
            for name in rest:
                self._launch(name)
            self._wait(rest + first[1:], deadline)
            if self.instances:
                self._wait_registered(deadline)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = round(time.monotonic() - began, 1)
        self._write_state()
        return self

    def stop(self, grace: float = 15.0) -> None:
        """Stop every JVM (Pinot first, then Kafka, then ZooKeeper) and wait until their ports are free."""
        pinot = [n for n in self.components if n not in ("zookeeper", "kafka")]
        for group in (pinot, ["kafka"], ["zookeeper"]):
            pids = [self.components[n]["pid"] for n in group if n in self.components and self.components[n]["pid"]]
            _terminate(pids, grace)
            for n in group:
                if n in self.components:
                    self.components[n]["pid"] = None
        for proc in self._procs.values():
            proc.poll()  # reap, so no zombie lingers in the test process
        self._procs.clear()
        # Also anything started under this workdir that the state lost track of.
        _terminate(running_pids(self.workdir), grace)
        self._wait_ports_free()
        if self.workdir.is_dir():
            self._write_state()

    def _wait_ports_free(self, timeout: float = 15.0) -> None:
        ports = [(self.kafka_host if n == "kafka" else HOST, p) for n, c in self.components.items()
                 for p in c["ports"].values()]
        deadline = time.monotonic() + timeout
        while any(port_open(p, h) for h, p in ports):
            if time.monotonic() > deadline:
                raise ClusterError(f"ports still open after stop: {[p for h, p in ports if port_open(p, h)]}")
            time.sleep(0.2)

    def stop_component(self, name: str, *, kill: bool = False, grace: float = 15.0) -> None:
        """Stop one component: SIGTERM (a graceful shutdown), or SIGKILL with kill=True (a crash)."""
        pid = self.components[name]["pid"]
        if pid:
            if kill:
                os.killpg(pid, signal.SIGKILL)
            _terminate([pid], grace)
        if name in self._procs:
            self._procs.pop(name).poll()
        self.components[name]["pid"] = None
        self._write_state()

    def start_component(self, name: str, *, wait: bool = True) -> None:
        """Start a stopped component again with the same ports and data dirs, so it rejoins as itself."""
        if self.components[name]["pid"] and _alive(self.components[name]["pid"]):
            raise ClusterError(f"{name} is already running")
        self._launch(name)
        if wait:
            self._wait([name], time.monotonic() + self.start_timeout)

    def is_running(self, name: str) -> bool:
        pid = self.components[name]["pid"]
        return bool(pid) and _alive(pid)

    def pids(self) -> list[int]:
        return [c["pid"] for c in self.components.values() if c["pid"] and _alive(c["pid"])]

    def memory_kib(self) -> dict[str, int]:
        """Current (VmRSS) and peak (VmHWM) resident memory summed over the test bed JVMs, in KiB."""
        pids = self.pids()
        return {"rss": sum(_status_kib(p, "VmRSS") for p in pids), "peak": sum(_status_kib(p, "VmHWM") for p in pids)}

    def _kafka_command(self, tool: str, args: list[str]) -> list[str]:
        if self.kafka_bootstrap is None:
            raise ClusterError("this cluster runs no Kafka broker")
        log4j = self.workdir / "kafka-log4j.properties"
        return ["java", "-Xmx128m", *JVM_FLAGS[:3], f"-Dlog4j.configuration=file:{log4j}", "-cp",
                f"{self.kafka_lib}/*", tool, "--bootstrap-server", self.kafka_bootstrap, *args]

    def _kafka_tool(self, tool: str, args: list[str], what: str, input_text: str | None = None) -> None:
        done = subprocess.run(self._kafka_command(tool, args), capture_output=True, text=True, timeout=120,
                              check=False, input=input_text)
        if done.returncode != 0:
            raise ClusterError(f"{what} failed: {(done.stderr or done.stdout)[-2000:]}")

    def create_kafka_topic(self, topic: str, partitions: int = 1) -> None:
        """Create a topic with Kafka's own admin tool; proves the broker accepts admin connections."""
        tool = "org.apache.kafka.tools.TopicCommand" if any(self.kafka_lib.glob("kafka-tools-*.jar")) \
            else "kafka.admin.TopicCommand"
        self._kafka_tool(tool, ["--create", "--if-not-exists", "--topic", topic, "--partitions", str(partitions),
                                "--replication-factor", "1"], f"creating Kafka topic {topic}")

    def produce(self, topic: str, messages: list[str]) -> None:
        """Send one message per string with Kafka's console producer (waits for every ack)."""
        self._kafka_tool("kafka.tools.ConsoleProducer", producer_args(topic), f"producing to {topic}",
                         "\n".join(messages) + "\n")

    def producer(self, topic: str) -> subprocess.Popen:
        """A console producer that sends each line written to its stdin; closing stdin flushes and ends it."""
        return subprocess.Popen(self._kafka_command("kafka.tools.ConsoleProducer", producer_args(topic)),
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    # ----- state

    def state(self) -> dict[str, Any]:
        return {
            "version": self.version, "workdir": str(self.workdir), "auth": self.auth, "lib": str(self.lib),
            "kafka_lib": str(self.kafka_lib) if self.kafka_lib else None,
            "plugins": str(self.plugins) if self.plugins else None, "properties": self.properties,
            "controller_url": self.controller_url if "controller" in self.components else None,
            "broker_url": self.broker_url if "broker" in self.components else None, "zk_address": self.zk_address,
            "kafka_bootstrap": self.kafka_bootstrap, "kafka_host": self.kafka_host,
            "server_admin_urls": self.server_admin_urls,
            "minion_url": self.minion_url, "instances": self.instances, "components": self.components,
        }

    def _write_state(self) -> None:
        path = self.workdir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state(), indent=1, default=str))
        tmp.replace(path)

    @classmethod
    def from_state(cls, path: str | os.PathLike) -> PinotCluster:
        """Attach to a cluster another process started (state.json file or its workdir)."""
        path = Path(path)
        if path.is_dir():
            path = path / STATE_FILE
        data = json.loads(path.read_text())
        cluster = cls.__new__(cls)
        cluster.version = data["version"]
        cluster.workdir = Path(data["workdir"])
        cluster.auth = data["auth"]
        cluster.die_with_parent = False
        cluster.start_timeout = 240.0
        cluster.owned = False
        cluster.lib = Path(data["lib"])
        cluster.kafka_lib = Path(data["kafka_lib"]) if data.get("kafka_lib") else None
        cluster.kafka_host = data.get("kafka_host", HOST)
        cluster.plugins = Path(data["plugins"]) if data.get("plugins") else None
        cluster.s3_plugin = cluster.plugins is not None
        cluster.properties = data.get("properties") or {}
        cluster.env = {}  # never written to the state file: it may hold credentials
        cluster.components = data["components"]
        cluster._procs = {}
        return cluster

    def __enter__(self) -> PinotCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_from_state(workdir: str | os.PathLike, grace: float = 15.0) -> list[int]:
    """Stop a cluster from its state.json; returns the PIDs that were still alive. Safe to call twice."""
    workdir = Path(workdir).resolve()
    alive = running_pids(workdir)
    if (workdir / STATE_FILE).is_file():
        cluster = PinotCluster.from_state(workdir)
        # Only PIDs whose command line still names this workdir: a recycled PID is left alone.
        for comp in cluster.components.values():
            if comp["pid"] and comp["pid"] not in alive:
                comp["pid"] = None
        cluster.stop(grace)
    else:
        _terminate(alive, grace)
    return alive
