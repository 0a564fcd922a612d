"""The Pinot gates' decisions, on controller answers recorded as plain dicts."""

import json

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS, PinotError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.health import (
    Probe,
    build_probe,
    gate_checks,
    gate_segments,
    restart_checks,
    run_once,
    wait_for_gate,
)


class FakeClient:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def get(self, path, params=None, missing_ok=False):
        key = path + (f"?{params['path']}" if params else "")
        self.calls.append(key)
        value = self.answers.get(key)
        if isinstance(value, Exception):
            raise value
        if value is None and not missing_ok:
            raise PinotError("GET", path, 404, "not found")
        return value

    def get_many(self, paths, missing_ok=True):
        self.calls.append(("many", len(paths)))
        return [self.get(path, missing_ok=missing_ok) for path in paths]


S1, S2 = "Server_a_8098", "Server_b_8098"
BASE = {
    "/health": "OK",
    "/cluster/info": {"clusterName": "C"},
    "/zk/ls?/C/LIVEINSTANCES": ["Controller_c_9000", S1, S2],
    "/tables": {"tables": ["t_OFFLINE"]},
    "/tables/t_OFFLINE/idealstate": {"OFFLINE": {"seg0": {S1: "ONLINE", S2: "ONLINE"}}},
    "/tables/t_OFFLINE/externalview": {"OFFLINE": {"seg0": {S1: "ONLINE", S2: "ONLINE"}}},
    "/leader/tables": {"leadControllerResourceEnabled": True,
                       "leadControllerEntryMap": {"p0": {"leadControllerId": "Controller_c_9000"}}},
}


def check(component, answers, instance=None):
    probe = Probe(FakeClient(dict(BASE, **answers)))
    return {r["check"]: (r["ok"], r["detail"]) for r in run_once(probe, gate_checks(component, instance))}


def test_cluster_preflight_passes_when_converged():
    results = check("cluster", {})
    assert all(ok for ok, _detail in results.values()), results


def test_cluster_preflight_reports_error_segment():
    results = check("cluster", {"/tables/t_OFFLINE/externalview": {"OFFLINE": {"seg0": {S1: "ERROR", S2: "ONLINE"}}}})
    ok, detail = results["segments"]
    # One line per bad replica (it used to be listed twice: as ERROR and as ERROR against the ideal state).
    assert not ok and detail == ("1 segment(s) in the cluster not as in the ideal state: "
                                 "t_OFFLINE/seg0 on Server_a_8098: ERROR (ideal ONLINE)")


def test_a_bad_replica_of_a_raw_table_name_says_which_table_type():
    # Pinot answers a raw name with both types' views.
    views = {"OFFLINE": {"seg0": {S1: "ONLINE"}}, "REALTIME": {"seg1": {S1: "CONSUMING"}}}
    probe = Probe(FakeClient(dict(BASE, **{
        "/tables/t/idealstate": views,
        "/tables/t/externalview": {"OFFLINE": {"seg0": {S1: "ONLINE"}}, "REALTIME": {"seg1": {S1: "ERROR"}}}})))
    ok, detail = gate_segments(probe, ["t"])
    assert not ok and detail.endswith(": t_REALTIME/seg1 on Server_a_8098: ERROR (ideal CONSUMING)"), detail


def test_an_error_replica_the_ideal_state_no_longer_has_is_still_reported():
    results = check("cluster", {"/tables/t_OFFLINE/externalview": {
        "OFFLINE": {"seg0": {S1: "ONLINE", S2: "ONLINE", "Server_c_8098": "ERROR"}}}})
    ok, detail = results["segments"]
    assert not ok and detail.endswith("t_OFFLINE/seg0 on Server_c_8098: ERROR")


def test_server_gate_only_looks_at_its_own_segments():
    view = {"/tables/t_OFFLINE/externalview": {"OFFLINE": {"seg0": {S1: "ONLINE", S2: "OFFLINE"}}}}
    assert check("server", view, instance=S1)["segments"][0]
    ok, detail = check("server", view, instance=S2)["segments"]
    assert not ok and "OFFLINE (ideal ONLINE)" in detail


def test_server_not_live():
    ok, detail = check("server", {"/zk/ls?/C/LIVEINSTANCES": ["Controller_c_9000", S2]}, instance=S1)["live"]
    assert not ok and detail == f"{S1} is not live in Helix"


def test_liveinstances_endpoint_preferred_when_present():
    results = check("broker", {"/liveinstances": {"instances": ["Broker_x_8099"]}}, instance="Broker_x_8099")
    assert results["live"][0]


def test_controller_leadership_needs_a_live_leader():
    answers = {"/leader/tables": {"leadControllerResourceEnabled": True,
                                  "leadControllerEntryMap": {"p0": {"leadControllerId": "Controller_gone_9000"}}}}
    ok, detail = check("controller", answers)["leadership"]
    assert not ok and "without a live leader" in detail


def test_unhealthy_controller_reported_not_raised():
    ok, detail = check("cluster", {"/health": PinotError("GET", "/health", 503, "down")})["controller_health"]
    assert not ok and "503" in detail


def test_wait_retries_until_healthy_and_times_out():
    answers = dict(BASE)
    probe = Probe(FakeClient(answers))
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
        answers["/zk/ls?/C/LIVEINSTANCES"] = [S1]  # the server comes back after the first attempt

    results, attempts, _elapsed = wait_for_gate(probe, gate_checks("server", S1), timeout=10, interval=2,
                                                clock=lambda: now[0], sleep=sleep)
    assert attempts == 1 and all(r["ok"] for r in results)
    answers["/zk/ls?/C/LIVEINSTANCES"] = []
    results, attempts, elapsed = wait_for_gate(probe, gate_checks("server", S1), timeout=10, interval=2,
                                               clock=lambda: now[0], sleep=sleep)
    assert attempts == 2 and results[0]["ok"]  # live again after the first sleep
    answers["/zk/ls?/C/LIVEINSTANCES"] = []
    results, attempts, elapsed = wait_for_gate(probe, gate_checks("server", S1), timeout=10, interval=2,
                                               clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert not results[0]["ok"] and attempts == 6 and elapsed == 10


def test_controller_credentials_reach_a_health_url_only_when_asked():
    params = {key: spec.get("default") for key, spec in PINOT_CONNECTION_ARGS.items()}
    params.update(controller_url="http://controller:9000", username="admin", password="s3cr3t",
                  health_url="http://pinot-broker-0.pinot-broker-headless:8099")
    assert build_probe(params).client.session.auth == ("admin", "s3cr3t")
    assert build_probe(params).health_client.session.auth is None
    asked = build_probe(dict(params, health_url_credentials=True))
    assert asked.health_client.session.auth == ("admin", "s3cr3t")
    token = build_probe(dict(params, username=None, token="Bearer t"))
    assert "Authorization" not in token.health_client.session.headers


B1, B2 = "Broker_x_8099", "Broker_y_8099"
RESTART = dict(BASE, **{
    "/zk/ls?/C/LIVEINSTANCES": ["Controller_c_9000", B1, B2, S1, S2],
    "/tables": {"tables": ["t_OFFLINE", "r_REALTIME"]},
    "/tables/r_REALTIME/externalview": {"REALTIME": {"r__0__0": {S1: "CONSUMING", S2: "CONSUMING"},
                                                     "r__1__0": {S1: "ONLINE"}}},
    "/zk/get?/C/EXTERNALVIEW/brokerResource": json.dumps({"id": "brokerResource", "mapFields": {
        "t_OFFLINE": {B1: "ONLINE", B2: "ONLINE"}, "r_REALTIME": {B1: "ONLINE"}}}),
})


def restart_check(component, instances, **answers):
    probe = Probe(FakeClient(dict(RESTART, **answers)))
    [result] = run_once(probe, restart_checks(component, instances))
    return result["ok"], result["detail"]


def test_a_server_whose_segments_have_another_serving_replica_may_restart():
    # S2 serves t_OFFLINE/seg0 and the consuming r__0__0, both also served by S1.
    assert restart_check("server", [S2]) == (True, f"every segment {S2} serves has another serving replica")


def test_a_server_holding_the_only_serving_replica_may_not_restart_and_the_segment_is_named():
    ok, detail = restart_check("server", [S1])
    assert not ok and detail == f"1 segment(s) would have no serving replica while {S1} restarts: r_REALTIME/r__1__0"


def test_a_replica_on_a_dead_or_erroring_server_does_not_count():
    dead = {"/zk/ls?/C/LIVEINSTANCES": ["Controller_c_9000", S2]}
    ok, detail = restart_check("server", [S2], **dead)
    assert not ok and "t_OFFLINE/seg0" in detail and "r_REALTIME/r__0__0" in detail
    erroring = {"/tables/t_OFFLINE/externalview": {"OFFLINE": {"seg0": {S1: "ERROR", S2: "ONLINE"}}}}
    ok, detail = restart_check("server", [S2], **erroring)
    assert not ok and detail.endswith("t_OFFLINE/seg0")


def test_servers_restarting_together_are_judged_together():
    ok, detail = restart_check("server", [S1, S2])
    assert not ok and detail.startswith(f"3 segment(s) would have no serving replica while {S1}, {S2} restarts")


def test_a_broker_may_restart_only_if_every_table_it_routes_has_another_live_broker():
    ok, detail = restart_check("broker", [B1])
    assert not ok and detail == f"1 table(s) would have no live broker while {B1} restarts: r_REALTIME"
    assert restart_check("broker", [B2]) == (True, f"every table {B2} routes has another live broker")


def test_the_only_live_controller_may_not_restart():
    ok, detail = restart_check("controller", ["Controller_c_9000"])
    assert not ok and detail.startswith("Controller_c_9000 is the only live controller")
    two = {"/zk/ls?/C/LIVEINSTANCES": ["Controller_c_9000", "Controller_d_9000"]}
    assert restart_check("controller", ["Controller_c_9000"], **two) == (
        True, "1 other live controller(s): Controller_d_9000")


def test_minions_need_no_restart_check():
    assert restart_checks("minion", ["Minion_m_9514"]) == []


def test_the_views_of_every_table_are_read_in_one_concurrent_batch():
    tables = [f"t{i}_OFFLINE" for i in range(3)]
    answers = dict(BASE, **{"/tables": {"tables": tables}})
    for table in tables:
        answers[f"/tables/{table}/idealstate"] = answers[f"/tables/{table}/externalview"] = BASE[
            "/tables/t_OFFLINE/idealstate"]
    client = FakeClient(answers)
    results = {r["check"]: r for r in run_once(Probe(client), gate_checks("server", S1))}
    assert results["segments"]["ok"] and "for 3 table(s)" in results["segments"]["detail"]
    assert ("many", 6) in client.calls  # ideal state and external view of each table, together
    client = FakeClient(answers)
    (safe,) = run_once(Probe(client), restart_checks("server", [S1]))
    assert safe["ok"], safe
    assert ("many", 3) in client.calls
