"""The test bed's stand-in images, without building one: apt sources, OCI config, the image scripts run under bash."""

from __future__ import annotations

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster import spec as cluster_spec
from tests.testbed import images, pinot

ENTRYPOINT = images.FILES / "zookeeper" / "docker-entrypoint.sh"
ZKSERVER = images.FILES / "zookeeper" / "zkServer.sh"
PINOT_ADMIN = images.FILES / "pinot" / "pinot-admin.sh"
NO_USER = "pinotops-no-such-user"


# --------------------------------------------------------------------------- apt sources


def test_apt_sources_reads_one_line_and_deb822_files_and_skips_disabled_ones(tmp_path: Path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib\n"
        "deb-src http://mirror.example/debian bookworm main\n")
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# http://snapshot.example/\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n -----END PGP-----\n\n"
        "Types: deb\nURIs: http://deb.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nEnabled: no\nURIs: http://off.example/\nSuites: bookworm\nComponents: main\n")
    (tmp_path / "sources.list.d" / "cloud.list.disabled").write_text("deb http://elsewhere.example/ x main\n")
    sources = images.apt_sources(tmp_path)
    assert sources == [
        ("http://mirror.example/debian", "bookworm", ["main", "contrib"]),
        ("http://deb.example/debian", "bookworm", ["main"]),
        ("http://deb.example/debian", "bookworm-updates", ["main"]),
        ("http://deb.example/debian-security", "bookworm-security", ["main"]),
    ]
    assert images.debian_mirror("bookworm", sources) == "http://mirror.example/debian"
    assert images.chroot_sources("bookworm", sources).splitlines() == [
        "deb http://mirror.example/debian bookworm main contrib",
        "deb http://deb.example/debian bookworm main",
        "deb http://deb.example/debian bookworm-updates main",
        "deb http://deb.example/debian-security bookworm-security main",
    ]
    with pytest.raises(images.ImageBuildError, match="trixie"):
        images.debian_mirror("trixie", sources)
    assert images.chroot_sources("bookworm-backports", sources) == "\n"


# --------------------------------------------------------------------------- OCI config


def test_umoci_config_args_replace_every_list_and_set_the_pinot_interface():
    args = images.umoci_config_args(images.pinot_config("1.5.1"))
    # Without the clears the base's Env/Cmd would be merged into the Pinot image's.
    for field in ("env", "entrypoint", "cmd", "exposedports", "labels"):
        assert f"--clear=config.{field}" in args
    assert args.index("--clear=config.env") < args.index("--config.env=PINOT_HOME=/opt/pinot")
    assert [a for a in args if a.startswith("--config.entrypoint=")] == ["--config.entrypoint=./bin/pinot-admin.sh"]
    assert "--config.workingdir=/opt/pinot" in args
    assert "--config.exposedports=9000/tcp" in args
    assert "--config.label=org.opencontainers.image.version=1.5.1" in args
    assert not any(a.startswith("--config.user=") for a in args)  # root, like the official image


def test_zookeeper_config_puts_zkserver_on_path_and_the_official_defaults():
    config = images.zookeeper_config("3.9.3")
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PATH"].split(":")[-1] == "/apache-zookeeper-3.9.3-bin/bin"
    assert (env["ZOO_CONF_DIR"], env["ZOO_DATA_DIR"], env["ZOO_TICK_TIME"], env["ZOO_INIT_LIMIT"],
            env["ZOO_SYNC_LIMIT"]) == ("/conf", "/data", "2000", "5", "2")
    args = images.umoci_config_args(config)
    commands = [a for a in args if a.startswith("--config.cmd=")]
    assert commands == ["--config.cmd=zkServer.sh", "--config.cmd=start-foreground"]
    assert "--config.entrypoint=/docker-entrypoint.sh" in args


def test_image_names_are_what_kubelet_looks_up_for_the_collections_defaults():
    # cluster_spec's default `zookeeper:3.9.3` and `apachepinot/pinot:X` normalise to these.
    assert f"{images.ZOOKEEPER_REPOSITORY}:3.9.3" == "docker.io/library/zookeeper:3.9.3"
    assert f"{images.PINOT_REPOSITORY}:1.5.1" == "docker.io/apachepinot/pinot:1.5.1"


def test_with_user_adds_the_user_once():
    passwd, group = images.with_user("root:x:0:0:root:/root:/bin/bash\n", "root:x:0:\n", "zookeeper", 1000)
    assert passwd.splitlines()[-1] == "zookeeper:x:1000:1000::/home/zookeeper:/usr/sbin/nologin"
    assert group.splitlines()[-1] == "zookeeper:x:1000:"
    assert images.with_user(passwd, group, "zookeeper", 1000) == (passwd, group)


def test_cache_key_follows_the_image_files(tmp_path: Path):
    a, b = tmp_path / "a.sh", tmp_path / "b.xml"
    a.write_text("one")
    b.write_text("two")
    before = images._files_digest([a, b])
    assert images._files_digest([b, a]) == before
    a.write_text("changed")
    assert images._files_digest([a, b]) != before


def test_mounts_under_sees_proc_and_not_a_plain_directory(tmp_path: Path):
    assert images._mounts_under(tmp_path) == []
    assert "/proc" in images._mounts_under(Path("/proc"))


# --------------------------------------------------------------------------- the Pinot image's files


def fake_java(tmp_path: Path) -> dict[str, str]:
    """PATH with a `java` that prints its arguments one per line, for running the launch scripts."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    java = bin_dir / "java"
    java.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    java.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_pinot_admin_runs_pinot_administrator_with_java_opts_after_the_fixed_flags(tmp_path: Path):
    env = fake_java(tmp_path) | {"JAVA_OPTS": "-Xmx1g -Dpinot.admin.system.exit=false -Dplugins.dir=/opt/pinot/plugins"}
    out = subprocess.run(["bash", str(PINOT_ADMIN), "StartController", "-configFileName", "/c/pinot-controller.conf"],
                         env=env, capture_output=True, text=True, check=True).stdout.splitlines()
    cp = out.index("-cp")
    assert out[cp:] == ["-cp", "/opt/pinot/lib/*", pinot.ADMIN_MAIN, "StartController", "-configFileName",
                        "/c/pinot-controller.conf"]
    # The pod's JAVA_OPTS come after the image's default, so its -D wins.
    assert out.index("-Dpinot.admin.system.exit=false") > out.index("-Dpinot.admin.system.exit=true")
    assert "-Dplugins.dir=/opt/pinot/plugins" in out[:cp]


def test_pinot_admin_has_the_jdk17_opens_of_the_test_bed():
    script = PINOT_ADMIN.read_text()
    opens = [flag for flag in pinot.JVM_FLAGS if flag.startswith(("--add-opens", "--add-exports"))]
    assert opens
    for flag in opens:
        assert flag in script


@pytest.mark.parametrize("role", images.PINOT_ROLES)
def test_pinot_log4j2_files_log_to_the_console(role: str):
    root = ET.parse(images.FILES / "pinot" / f"pinot-{role}-log4j2.xml").getroot()
    assert root.tag == "Configuration"
    assert root.find("Appenders/Console").get("target") == "SYSTEM_OUT"
    assert root.find("Appenders/RollingFile") is None and root.find("Appenders/File") is None
    assert root.find("Loggers/Root").get("level") in ("info", "warn")
    assert root.find("Loggers/Root/AppenderRef").get("ref") == "console"


def test_the_pinot_layer_holds_what_the_collections_pods_reference():
    names = [p.name for p in images.pinot_files()]
    assert all(p.is_file() for p in images.pinot_files())
    # cluster_render's JAVA_OPTS names /opt/pinot/etc/conf/pinot-<role>-log4j2.xml for each role.
    assert names[1:] == [f"pinot-{role}-log4j2.xml" for role in ("controller", "broker", "server", "minion")]


# --------------------------------------------------------------------------- the JMX exporter in the Pinot image


def test_the_exporter_sits_where_the_collections_metrics_default_to():
    # cluster_spec's `metrics` defaults are the official image's paths; the stand-in must have the same files.
    assert f"/{images.JMX_EXPORTER_HOME}/jmx_prometheus_javaagent.jar" == cluster_spec.METRICS_JAR
    for role in images.PINOT_ROLES:
        config = cluster_spec.metrics_config(role)
        assert config.startswith(f"/{images.JMX_EXPORTER_HOME}/configs/")
        assert config.rsplit("/", 1)[1] in images.JMX_EXPORTER_CONFIGS
    assert "pinot.yml" in images.JMX_EXPORTER_CONFIGS  # the official image's all-roles config


def test_install_jmx_exporter_lays_out_the_official_images_directory(tmp_path: Path):
    jar = tmp_path / "jmx_prometheus_javaagent-1.0.1.jar"
    jar.write_bytes(b"PK")
    home = tmp_path / "layer" / images.JMX_EXPORTER_HOME
    images.install_jmx_exporter(jar, images.jmx_exporter_config(), home)
    link = home / "jmx_prometheus_javaagent.jar"
    assert link.is_symlink() and os.readlink(link) == jar.name and link.read_bytes() == b"PK"
    config = images.jmx_exporter_config().read_text()
    assert sorted(p.name for p in (home / "configs").iterdir()) == sorted(images.JMX_EXPORTER_CONFIGS)
    for name in images.JMX_EXPORTER_CONFIGS:
        assert (home / "configs" / name).read_text() == config
        assert (home / "configs" / name).stat().st_mode & 0o777 == 0o644


def test_the_pinot_image_key_follows_the_exporters_version_and_config(tmp_path: Path, monkeypatch):
    config = tmp_path / "pinot.yml"
    config.write_text("rules: []\n")
    files = images.pinot_files()

    def key():
        return images.pinot_image_key("bookworm", lib_marker="{}", files=files, config=images.pinot_config("1.5.1"),
                                      plugins_marker="{}", exporter_config=config)

    before = key()
    assert key() == before
    config.write_text("rules: [{pattern: x}]\n")
    changed_config = key()
    assert changed_config != before
    monkeypatch.setattr(images, "JMX_EXPORTER", ("io.prometheus.jmx", "jmx_prometheus_javaagent", "9.9.9"))
    assert key() not in (before, changed_config)


def exported(bean: str, attribute: str) -> tuple[str, str, dict[str, str]] | None:
    """(name, type, labels) the exporter makes of a bean's attribute with the test bed's rules, as jmx_exporter matches
    them: each pattern as ^.*(?:pattern).*$ against `domain<properties><>attribute: value`, the first match wins."""
    domain, properties = bean.split(":", 1)
    text = f"{domain}<{properties.replace(',', ', ')}><>{attribute}: 1"
    for rule in yaml.safe_load(images.jmx_exporter_config().read_text())["rules"]:
        match = re.match(f"^.*(?:{rule['pattern']}).*$", text)
        if match:
            def fill(value: str, match=match) -> str:
                return re.sub(r"\$(\d+)", lambda m: match.group(int(m.group(1))) or "", str(value))

            labels = {key: fill(value) for key, value in (rule.get("labels") or {}).items()}
            return fill(rule["name"]), rule.get("type", "UNTYPED"), labels
    return None


PINOT_BEAN = '"org.apache.pinot.common.metrics":type="{type}",name="{name}"'


@pytest.mark.parametrize(("metrics_type", "name", "attribute", "expected"), [
    # Bean names as Pinot 1.5.1 registers them (checked with its classes and the 1.0.1 agent).
    ("BrokerMetrics", "pinot.broker.queries", "Count", ("pinot_broker_queries", "COUNTER", {})),
    ("BrokerMetrics", "pinot.broker.airlineStats.queries", "Count",
     ("pinot_broker_queries", "COUNTER", {"key": "airlineStats"})),
    ("ServerMetrics", "pinot.server.queries", "Count", ("pinot_server_queries", "COUNTER", {})),
    ("ServerMetrics", "pinot.server.airlineStats_REALTIME.realtimeRowsConsumed", "Count",
     ("pinot_server_realtimeRowsConsumed", "COUNTER", {"table": "airlineStats", "table_type": "REALTIME"})),
    ("ServerMetrics", "pinot.server.segmentCount.airlineStats_OFFLINE", "Value",
     ("pinot_server_segmentCount", "GAUGE", {"table": "airlineStats", "table_type": "OFFLINE"})),
    ("ServerMetrics", "pinot.server.llcPartitionConsuming.airlineStats_REALTIME.0", "Value",
     ("pinot_server_llcPartitionConsuming", "GAUGE",
      {"table": "airlineStats", "table_type": "REALTIME", "partition": "0"})),
    ("ServerMetrics", "pinot.server.airlineStats_OFFLINE.segmentUploadTimeMs", "99thPercentile",
     ("pinot_server_segmentUploadTimeMs_ms", "GAUGE",
      {"table": "airlineStats", "table_type": "OFFLINE", "percentile": "99"})),
    ("ControllerMetrics", "pinot.controller.segmentCount.airlineStats_OFFLINE", "Value",
     ("pinot_controller_segmentCount", "GAUGE", {"table": "airlineStats", "table_type": "OFFLINE"})),
    ("MinionMetrics", "pinot.minion.healthCheckGoodCalls", "Count",
     ("pinot_minion_healthCheckGoodCalls", "COUNTER", {})),
    ("ServerMetrics", "pinot.server.queries", "OneMinuteRate", None),  # rates come from the counters
])
def test_the_exporter_rules_name_pinots_metrics(metrics_type, name, attribute, expected):
    assert exported(PINOT_BEAN.format(type=metrics_type, name=name), attribute) == expected


def test_the_exporter_config_reads_only_pinots_beans():
    config = yaml.safe_load(images.jmx_exporter_config().read_text())
    assert config["includeObjectNames"] == ['"org.apache.pinot.common.metrics":*']
    assert set(config) == {"includeObjectNames", "rules"}
    for rule in config["rules"]:
        assert set(rule) <= {"pattern", "name", "type", "labels"}
        assert rule["name"].startswith("pinot_$1_")


# --------------------------------------------------------------------------- the ZooKeeper image's files


def run_entrypoint(tmp_path: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "ZOO_USER": NO_USER, "ZOO_CONF_DIR": str(tmp_path / "conf"),
            "ZOO_DATA_DIR": str(tmp_path / "data"), "ZOO_LOG_DIR": str(tmp_path / "logs"),
            "ZOO_DATA_LOG_DIR": str(tmp_path / "datalog")}
    return subprocess.run(["bash", str(ENTRYPOINT), *command], env=base | env, capture_output=True, text=True,
                          check=False, timeout=30)


def zoo_cfg(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "conf" / "zoo.cfg").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_entrypoint_writes_an_ensemble_config_and_myid_then_runs_the_command(tmp_path: Path):
    servers = "server.1=zk-0.zk-headless:2888:3888;2181 server.2=zk-1.zk-headless:2888:3888;2181"
    done = run_entrypoint(tmp_path, {"ZOO_MY_ID": "2", "ZOO_SERVERS": servers,
                                     "ZOO_DATA_LOG_DIR": str(tmp_path / "data" / "log"),
                                     "ZOO_4LW_COMMANDS_WHITELIST": "srvr,ruok,mntr"},
                          "printf", "%s|", "a", "b c")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "a|b c|"  # exec'd with its arguments intact
    cfg = zoo_cfg(tmp_path)
    assert cfg["server.1"] == "zk-0.zk-headless:2888:3888;2181"
    assert cfg["server.2"] == "zk-1.zk-headless:2888:3888;2181"
    assert cfg["dataDir"] == str(tmp_path / "data")
    assert cfg["dataLogDir"] == str(tmp_path / "data" / "log")
    assert (tmp_path / "data" / "log").is_dir()
    assert cfg["4lw.commands.whitelist"] == "srvr,ruok,mntr"
    assert (cfg["tickTime"], cfg["initLimit"], cfg["syncLimit"]) == ("2000", "5", "2")
    assert cfg["standaloneEnabled"] == "true"
    assert (tmp_path / "data" / "myid").read_text() == "2\n"


def test_entrypoint_without_servers_configures_one_standalone_server(tmp_path: Path):
    done = run_entrypoint(tmp_path, {"ZOO_TICK_TIME": "500", "ZOO_ADMINSERVER_ENABLED": "false",
                                     "ZOO_CFG_EXTRA": "metricsProvider.exportJvmInfo=false snapCount=1000"}, "true")
    assert done.returncode == 0, done.stderr
    cfg = zoo_cfg(tmp_path)
    assert [k for k in cfg if k.startswith("server.")] == ["server.1"]
    assert cfg["server.1"] == "localhost:2888:3888;2181"
    assert cfg["tickTime"] == "500"
    assert cfg["admin.enableServer"] == "false"
    assert cfg["snapCount"] == "1000"
    assert "4lw.commands.whitelist" not in cfg
    assert (tmp_path / "data" / "myid").read_text() == "1\n"


def test_entrypoint_keeps_an_existing_config_and_myid(tmp_path: Path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "conf" / "zoo.cfg").write_text("mounted=1\n")
    (tmp_path / "data" / "myid").write_text("7\n")
    done = run_entrypoint(tmp_path, {"ZOO_MY_ID": "3", "ZOO_SERVERS": "server.3=a:1:2;2181"}, "true")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "conf" / "zoo.cfg").read_text() == "mounted=1\n"
    assert (tmp_path / "data" / "myid").read_text() == "7\n"


def test_entrypoint_fails_when_the_command_does(tmp_path: Path):
    assert run_entrypoint(tmp_path, {}, "false").returncode == 1


def test_zkserver_runs_quorum_peer_main_in_the_foreground_on_the_config(tmp_path: Path):
    home = tmp_path / "apache-zookeeper-3.9.3-bin"
    (home / "bin").mkdir(parents=True)
    script = home / "bin" / "zkServer.sh"
    script.write_bytes(ZKSERVER.read_bytes())
    script.chmod(0o755)
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "logback.xml").write_text("<configuration/>")
    env = fake_java(tmp_path) | {"ZOO_CONF_DIR": str(conf), "ZOO_LOG_DIR": "/logs", "JVMFLAGS": "-Xms64m -Dx=1"}
    out = subprocess.run([str(script), "start-foreground"], env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[-4:] == ["-cp", f"{home}/lib/*:{conf}", "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                        f"{conf}/zoo.cfg"]
    assert out[:3] == ["-Xmx1000m", "-Xms64m", "-Dx=1"]
    assert f"-Dlogback.configurationFile={conf}/logback.xml" in out
    assert "-Dzookeeper.log.dir=/logs" in out
    other = subprocess.run([str(script), "start-foreground", "/elsewhere/zoo.cfg"], env=env | {"ZK_SERVER_HEAP": "256"},
                           capture_output=True, text=True, check=True).stdout.splitlines()
    assert other[-1] == "/elsewhere/zoo.cfg" and other[0] == "-Xmx256m"
    # The daemon modes of the real script make no sense in a container: refused, not silently ignored.
    assert subprocess.run([str(script), "start"], env=env, capture_output=True, check=False).returncode == 2


def test_zookeeper_logback_logs_to_the_console():
    root = ET.parse(images.FILES / "zookeeper" / "logback.xml").getroot()
    assert root.find("appender").get("class") == "ch.qos.logback.core.ConsoleAppender"
    assert root.find("root").get("level") == "INFO"


def test_pinot_admin_puts_every_plugin_jar_dir_on_the_classpath(tmp_path: Path):
    home = tmp_path / "pinot"
    for jar in ("plugins/pinot-file-system/pinot-s3/pinot-s3.jar", "plugins/pinot-file-system/pinot-s3/s3.jar",
                "plugins/pinot-input-format/pinot-csv/pinot-csv.jar"):
        (home / jar).parent.mkdir(parents=True, exist_ok=True)
        (home / jar).touch()
    env = fake_java(tmp_path) | {"PINOT_HOME": str(home)}
    out = subprocess.run(["bash", str(PINOT_ADMIN), "StartServer"], env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[out.index("-cp") + 1] == ":".join([f"{home}/lib/*", f"{home}/plugins/pinot-file-system/pinot-s3/*",
                                                  f"{home}/plugins/pinot-input-format/pinot-csv/*"])
