"""Zones proven on real pods: Pinot knows the zones, a zone's loss is survived, a zone restarts at a time.

Three real nodes, one per zone (tests/testbed/real_node.py), and the cluster of tests/testbed/zone_cluster.py:
installed at Pinot 1.4.0 by site.yml (pools from zones, tables zone-aware), upgraded to 1.5.1 by upgrade.yml a
zone at a time under query and ingestion load, then zone-c's node killed abruptly under load (its kubelet,
containerd and every process of its pods SIGKILLed, its addresses cut off so peers time out) and started again.
Beside the zone-aware tables, two control tables of replication 2 on the same servers: one zone-aware, one with
Pinot's default assignment, which is what a user has without this feature. Tests share the cluster and run in
file order.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator

import pytest

from tests.support.modules import run_module
from tests.support.polling import wait_until
from tests.testbed import plays
from tests.testbed.load import Expected, QueryLoad, StreamFeed
from tests.testbed.pytest_k8s import binaries_required
from tests.testbed.real_cluster import (
    FROM_VERSION,
    HOST,
    OFFLINE,
    REALTIME,
    TO_VERSION,
    RealCluster,
    ready_at,
    real_cluster_bed,
    timestamp,
)
from tests.testbed.zone_cluster import (
    REPLICATION,
    ZONES,
    LiveWatch,
    zone_description,
    zone_of_server,
    zone_resources,
    zone_servers,
    zones_of_segments,
)

pytestmark = pytest.mark.integration

NS = "zones"
LOST = "zone-c"
BATCHES = 4  # OFFLINE segments per table: one CSV upload each
ROWS = [("r1", "paris", 12), ("r2", "lyon", 30), ("r3", "nice", 7)]
CONTROL = {"zoned2": True, "default2": False}  # replication-2 tables: zone-aware or Pinot's default assignment


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    with binaries_required(), real_cluster_bed(tmp_path_factory.mktemp("zones"), (FROM_VERSION, TO_VERSION), NS,
                                               zones=ZONES) as cluster:
        hv = plays.host_vars(cluster.inventory, HOST)
        hv["pinot_cluster"] = zone_description(f"apachepinot/pinot:{FROM_VERSION}", NS)
        hv.update(zone_resources(cluster.kafka.kafka_bootstrap, cluster.kafka.kafka_consumer_factory, cluster.topic))
        plays.write_host_vars(cluster.inventory, HOST, hv)
        yield cluster


def test_site_gives_every_server_its_zones_pool_and_each_zone_one_replica_of_every_segment(bed: RealCluster) -> None:
    rc, out, seconds = bed.play("site.yml")
    assert rc == 0, out[-4000:]
    pods = bed.pods()
    node_zone = {n["metadata"]["name"]: n["metadata"]["labels"].get("topology.kubernetes.io/zone")
                 for n in bed.cp.request("GET", "/api/v1/nodes")["items"]}
    assert sorted(node_zone[pods[f"pinot-zookeeper-{i}"]["spec"]["nodeName"]] for i in range(3)) == list(ZONES)

    for pool, zone in enumerate(ZONES):  # zone-a 0, zone-b 1, zone-c 2: the lowest free pools in name order
        for server in zone_servers(NS, zone):
            config = bed.controller("GET", f"/instances/{server}").json()
            assert node_zone[pods[server.split(".")[0].removeprefix("Server_")]["spec"]["nodeName"]] == zone
            pools = {tag: int(p) for tag, p in (config.get("pools") or {}).items()}
            assert pools == dict.fromkeys(config["tags"], pool), (server, config)

    zone_of = zone_of_server(NS)
    for table, kind in ((OFFLINE, "OFFLINE"), (REALTIME, "CONSUMING")):
        partitions = bed.controller("GET", f"/tables/{table}/instancePartitions", params={"type": kind}).json()
        groups = partitions[kind]["partitionToInstancesMap"]
        assert len(groups) == REPLICATION, groups
        assert sorted(zone_of[i] for group in groups.values() for i in group) == sorted(ZONES * 2), groups
        assert all(len({zone_of[i] for i in group}) == 1 for group in groups.values()), groups

    again_rc, again, _seconds = bed.play("site.yml")
    assert again_rc == 0 and plays.recap(again)[HOST]["changed"] == 0, again[-3000:]
    print(f"\nzones: site.yml {seconds} s; 3 ZooKeeper replicas in {list(ZONES)}; pools 0, 1, 2 written")


def test_rows_in_every_segment_on_three_zones(bed: RealCluster) -> None:
    for batch in range(BATCHES):
        bed.ingest_csv(f"{OFFLINE}_OFFLINE", "id,city,fare", [(f"{i}-{batch}", c, f) for i, c, f in ROWS])
    feed = StreamFeed(bed.kafka, bed.topic, "seed", rate=5.0)
    feed.start()
    time.sleep(4)
    seeded = feed.stop()
    tables = (f"{OFFLINE}_OFFLINE", f"{REALTIME}_REALTIME")
    spread: dict[str, dict[str, list[str]]] = {}

    def each_zone_serves_every_segment() -> bool:
        spread.update({table: zones_of_segments(bed, table) for table in tables})
        return all(found and all(zones == list(ZONES) for zones in found.values()) for found in spread.values())

    # First every replica serving: on a loaded machine a zone's server can still be loading a new segment when the
    # counts are already right (the broker may leave out a new segment's unconverged replica without a word, #32),
    # and the next test reads its expected counts from this state.
    with contextlib.suppress(AssertionError):
        wait_until("a replica of every segment serving in each zone", each_zone_serves_every_segment, timeout=180)
    for table in tables:
        assert spread[table] and all(zones == list(ZONES) for zones in spread[table].values()), (table, spread)
    wait_until("every row", lambda: bed.answer(f"SELECT COUNT(*) FROM {OFFLINE}") == [[BATCHES * len(ROWS)]] and
               bed.answer(f"SELECT COUNT(*) FROM {REALTIME}") == [[seeded]], timeout=120)


def test_a_zone_at_a_time_upgrade_under_load_loses_no_query(bed: RealCluster) -> None:
    """upgrade.yml with pinot_upgrade_server_steps=zone: the controller and brokers pod by pod, then the two
    servers of each zone together, each zone checked first (every segment has a replica in another zone) and
    every pod gated after; 5 queries/s and a Kafka feed throughout: no failed or wrong answer."""
    rows = {t: bed.sql(f"SELECT COUNT(*) FROM {t}")[0][0] for t in (OFFLINE, REALTIME)}
    feed = StreamFeed(bed.kafka, bed.topic, "upgrade", rate=2.0)
    load = QueryLoad(bed.service_url("broker"), [Expected(OFFLINE, rows[OFFLINE]),
                                                 Expected(REALTIME, rows[REALTIME], feed)])
    hv = plays.host_vars(bed.inventory, HOST)
    plays.set_image(bed.inventory, HOST, f"apachepinot/pinot:{TO_VERSION}")
    plays.set_host_vars(bed.inventory, HOST, pinot_upgrade_accept_unavailable=["controller"],
                        pinot_upgrade_server_steps="zone", pinot_controller_url=bed.service_url("controller"))
    try:
        feed.start()
        load.start()
        time.sleep(10)
        began = time.monotonic()
        with plays.PodHistory(bed.pods) as history:
            rc, out, seconds = bed.play("upgrade.yml")
        ended = time.monotonic()
        time.sleep(5)
    finally:
        load.stop()
        sent = feed.stop()
        hv["pinot_cluster"]["image"] = f"apachepinot/pinot:{TO_VERSION}"
        hv["pinot_controller_url"] = bed.service_url("controller")
        plays.write_host_vars(bed.inventory, HOST, hv)
    assert rc == 0, out[-4000:]
    bad = load.bad()
    assert not bad, [f"{a.table} {a.outcome} {a.detail} at +{a.at - began:.1f}s" for a in bad[:10]]
    sent_queries, asked = load.kept_pace(began, ended)
    assert sent_queries >= asked, f"the load sent {sent_queries} queries during the upgrade, the rate asks {asked}"

    pinot_pods = [name for name in bed.pods() if "zookeeper" not in name]
    assert {n: c for n, c in history.replacements().items() if n in pinot_pods} == dict.fromkeys(pinot_pods, 1)
    flat = " ".join(out.split())
    for index, zone in enumerate(ZONES, 1):
        for server in zone_servers(NS, zone):
            pod = server.split(".")[0].removeprefix("Server_")
            assert re.search(rf"zone {zone} {index}/3 {pod}: safe to restart, restarted, Ready after", flat), pod
    reported = bed.pinot_versions()
    assert set(reported.values()) == {TO_VERSION}, reported
    wait_until("every fed message, once", lambda: bed.sql(
        f"SELECT COUNT(*), COUNT(DISTINCT user) FROM {REALTIME} WHERE user LIKE 'upgrade-%'") == [[sent, sent]],
        timeout=120)

    pods = bed.pods()
    servers = [name for name in pods if "-server-" in name]
    went = {n: timestamp(history.deleted_at[history.uids[n][0]]) for n in servers}
    back = {n: ready_at(pods[n]) for n in servers}
    servers_seconds = (max(back.values()) - min(went.values())).total_seconds()
    print(f"\nzone-at-a-time upgrade {FROM_VERSION} -> {TO_VERSION} under load: upgrade.yml {seconds} s; the six "
          f"servers from the first deletion to the last Ready {servers_seconds:.1f} s; queries "
          f"{load.summary(since=began, until=ended)}; {sent} messages fed, all ingested once")


def _control_table(bed: RealCluster, name: str, zone_aware: bool) -> dict:
    table = {"tableName": name, "tableType": "OFFLINE", "segmentsConfig": {"replication": "2"}, "tenants": {},
             "tableIndexConfig": {}, "metadata": {}}
    schema = run_module("pinot_schema", {"controller_url": bed.service_url("controller"), "schema": {
        "schemaName": name, "dimensionFieldSpecs": [{"name": "id", "dataType": "STRING"},
                                                    {"name": "city", "dataType": "STRING"}],
        "metricFieldSpecs": [{"name": "fare", "dataType": "INT"}]}})
    assert not schema.get("failed"), schema
    result = run_module("pinot_table", {"controller_url": bed.service_url("controller"), "table": table,
                                        "zone_aware": zone_aware})
    assert not result.get("failed"), result
    for batch in range(BATCHES):
        bed.ingest_csv(f"{name}_OFFLINE", "id,city,fare", [(f"{i}-{batch}", c, f) for i, c, f in ROWS])
    return result


def test_a_zone_lost_under_load_then_back(bed: RealCluster) -> None:
    """zone-c's node dies under load. The zone-aware tables answer every query right (a query fails only until
    Pinot has seen the zone go); the default-assignment control table loses the segments whose two replicas were
    both in zone-c. The node comes back: its pods Ready, every segment on three zones again, every message fed
    during all of it ingested exactly once."""
    results = {name: _control_table(bed, name, zone_aware) for name, zone_aware in CONTROL.items()}
    assert any("could share a zone" in w for w in results["default2"].get("warnings") or []), results["default2"]
    assert not any("could share a zone" in w for w in results["zoned2"].get("warnings") or [])
    wait_until("the control tables' rows", lambda: all(
        bed.answer(f"SELECT COUNT(*) FROM {name}") == [[BATCHES * len(ROWS)]] for name in CONTROL), timeout=120)
    doomed = {name: sorted(s for s, zones in zones_of_segments(bed, f"{name}_OFFLINE").items() if set(zones) == {LOST})
              for name in CONTROL}
    assert doomed["zoned2"] == [], "a zone-aware table put both replicas of a segment in one zone"

    rows = {t: bed.sql(f"SELECT COUNT(*) FROM {t}")[0][0] for t in (OFFLINE, REALTIME, *CONTROL)}
    feed = StreamFeed(bed.kafka, bed.topic, "zone", rate=2.0)
    zoned = [Expected(OFFLINE, rows[OFFLINE]), Expected(REALTIME, rows[REALTIME], feed),
             Expected("zoned2", rows["zoned2"])]
    load = QueryLoad(bed.service_url("broker"), [*zoned, Expected("default2", rows["default2"])], rate=8.0)
    lost = zone_servers(NS, LOST)
    watch = LiveWatch(bed, lost)
    node = bed.node.by_zone[LOST]
    try:
        feed.start()
        load.start()
        watch.start()
        time.sleep(15)
        killed = time.monotonic()
        node.kill()
        wait_until("Pinot to see zone-c's servers gone", lambda: watch.gone_at, timeout=180)
        time.sleep(30)  # queries after Pinot saw the loss
        seen = watch.gone_at
        load.stop()
        revived = time.monotonic()
        node.revive()
        wait_until("every pod Ready again", lambda: all(ready_at(p) for p in bed.pods().values()), timeout=300)
        wait_until("Pinot to see zone-c's servers back", lambda: watch.back_at, timeout=300)
        for table in (f"{OFFLINE}_OFFLINE", f"{REALTIME}_REALTIME"):
            wait_until(f"{table} on three zones again", lambda t=table: all(
                zones == list(ZONES) for zones in zones_of_segments(bed, t).values()), timeout=300)
        converged = time.monotonic()
    finally:
        load.stop()
        watch.stop()
        sent = feed.stop()
    assert watch.polls >= 10, "the live-instance watch saw too little"

    by_table: dict[str, list] = {}
    for answer in load.answers:
        by_table.setdefault(answer.table, []).append(answer)
    wrong = [a for a in load.answers if a.outcome == "wrong" and a.table != "default2"]
    late = [a for e in zoned for a in by_table[e.table] if a.outcome == "failed" and a.at > seen]
    sent_queries, asked = load.kept_pace(killed, seen + 30)
    assert sent_queries >= asked, f"the load sent {sent_queries} queries around the loss, the rate asks {asked}"
    wait_until("every message fed through the zone's loss and return, once", lambda: bed.sql(
        f"SELECT COUNT(*), COUNT(DISTINCT user) FROM {REALTIME} WHERE user LIKE 'zone-%'") == [[sent, sent]],
        timeout=180)

    renewed = watch.renewed()

    def figures(table: str) -> str:
        answers = [a for a in by_table[table] if a.at >= killed]
        failed = [a.at - killed for a in answers if a.outcome == "failed"]
        window = f"{min(failed):.1f}..{max(failed):.1f} s after the kill" if failed else "none"
        kinds = sorted({re.sub(r"\d+", "N", a.detail)[:160] for a in answers if a.outcome == "failed"})
        return (f"{table}: {len(answers)} sent, {len(failed)} failed ({window}), "
                f"{sum(a.outcome == 'wrong' for a in answers)} wrong{': ' + ' | '.join(kinds) if kinds else ''}")

    print(f"\nzone {LOST} lost at +0 s: Pinot saw its servers gone at +{seen - killed:.1f} s; "
          f"{'; '.join(figures(t) for t in by_table)}; default assignment put both replicas of "
          f"{len(doomed['default2'])} of {BATCHES} segments in {LOST} ({doomed['default2']}); node back "
          f"{node.timings.get('revive', 0):.1f} s after revive(), Pinot saw the servers back at "
          f"+{watch.back_at - revived:.1f} s, every segment on three zones at +{converged - revived:.1f} s; "
          f"{sent} messages fed, all ingested once; ZooKeeper sessions renewed outside {LOST}: "
          f"{ {n.split('.')[0]: [round(at - killed, 1) for at in ats] for n, ats in renewed.items()} or 'none'}")
    # What a zone's loss must not do to the zones that stay: no wrong answer, no failed query once Pinot has seen the
    # loss, no ZooKeeper session lost. A broker whose session expires rebuilds its routing, and while a zone is down
    # it takes a segment younger than five minutes for a new one and leaves it out of every third answer, without an
    # exception (docs/zones.md, "The managed ZooKeeper"): the likely cause of the 9-of-12-row answers of two runs
    # made when Pinot reached ZooKeeper through its client Service.
    assert not renewed, f"ZooKeeper sessions outside {LOST} expired and were renewed: {renewed}"
    assert not wrong and not late, f"Pinot saw the loss at +{seen - killed:.1f}s; " + "; ".join(
        f"{a.table} {a.outcome} {a.detail} at +{a.at - killed:.1f}s" for a in (wrong + late)[:8])
