"""Issue #30's acceptance: one play sets a cluster config (cluster.tenant.isolation.enable) and a database quota,
creates two tables whose SegmentGenerationAndPushTask runs ingest their own CSV files, puts a logical table over both
and queries it (tests/integration/playbooks/control_surface.yml). It runs twice with ansible-playbook against the
real Pinot: the second run changes nothing and sends no write request. What the play created is removed afterwards,
and the cluster config is put back as it was.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest
import requests

from tests.support.examples import BIN, COLLECTIONS, RESULT

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parent / "playbooks" / "control_surface.yml"
ISOLATION = "cluster.tenant.isolation.enable"


def run_play(workdir: Path, extra_vars: dict) -> list[dict]:
    """Every task result of the run (one per loop item), in order; the run must succeed."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "PINOT_"))}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(workdir / ".ansible-tmp"),
               ANSIBLE_CONFIG=str(workdir / "ansible.cfg"))
    (workdir / "ansible.cfg").write_text("[defaults]\n")
    proc = subprocess.run([str(BIN / "ansible-playbook"), str(PLAYBOOK), "-e", json.dumps(extra_vars)], cwd=workdir,
                          env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    results = []
    for found in RESULT.finditer(proc.stdout):
        result, _end = json.JSONDecoder().raw_decode(proc.stdout, found.end())
        results.extend(result.get("results") or [result])  # a loop's items, or the task itself
    return results


def write_csv(directory: Path, file: str, ids: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    rows = [f"{row_id},{1700000000000 + n}\n" for n, row_id in enumerate(ids)]
    (directory / file).write_text("id,ts\n" + "".join(rows))


@pytest.mark.every_version
def test_the_control_surface_play_converges_then_writes_nothing(pinot, tmp_path):
    url = pinot.controller_url
    prefix = "cs" + secrets.token_hex(3)
    isolation_before = requests.get(f"{url}/cluster/configs", timeout=10).json().get(ISOLATION)
    write_csv(tmp_path / "inputs" / "a", "one.csv", ["a1", "a2", "a3"])
    write_csv(tmp_path / "inputs" / "b", "one.csv", ["b1", "b2"])
    extra_vars = {"controller_url": url, "prefix": prefix, "inputs": str(tmp_path / "inputs"), "expected_rows": 5}
    try:
        requests.delete(f"{url}/cluster/configs/{ISOLATION}", timeout=10).raise_for_status()  # so the play sets it
        first = run_play(tmp_path, extra_vars)
        assert len(first) == 11  # 1 config, 1 quota, 3 schemas, 2 tables, 2 task runs, 1 logical table, 1 query
        assert all(result["changed"] for result in first[:-1]), first
        written = [request for result in first for request in result["executed_requests"]]
        assert any(request.startswith("POST /tasks/schedule") for request in written), written
        assert "POST /logicalTables" in written, written
        assert requests.get(f"{url}/cluster/configs", timeout=10).json()[ISOLATION] == "true"
        quota = requests.get(f"{url}/databases/{prefix}db/quotas", headers={"database": f"{prefix}db"}, timeout=10)
        assert quota.json() == {"maxQueriesPerSecond": "100.0"}
        counted = first[-1]
        assert (counted["columns"], counted["rows"]) == (["count(*)"], [[5]]), counted

        second = run_play(tmp_path, extra_vars)
        assert len(second) == len(first)
        assert [r for r in second if r["changed"] or r["executed_requests"]] == [], "the second run wrote"
        assert second[-1]["rows"] == [[5]]
    finally:
        requests.delete(f"{url}/logicalTables/{prefix}_all", timeout=60)
        for table in (f"{prefix}_a", f"{prefix}_b"):
            requests.delete(f"{url}/tables/{table}", params={"type": "offline", "ignoreActiveTasks": "true"},
                            timeout=60)
        for schema in (f"{prefix}_a", f"{prefix}_b", f"{prefix}_all"):
            requests.delete(f"{url}/schemas/{schema}", timeout=60)
        requests.post(f"{url}/databases/{prefix}db/quotas", headers={"database": f"{prefix}db"}, timeout=10)
        cluster = requests.get(f"{url}/cluster/info", timeout=10).json()["clusterName"]
        requests.delete(f"{url}/zk/delete", timeout=10,
                        params={"path": f"/{cluster}/PROPERTYSTORE/CONFIGS/DATABASE/{prefix}db"})
        if isolation_before is None:
            requests.delete(f"{url}/cluster/configs/{ISOLATION}", timeout=10)
        else:
            requests.post(f"{url}/cluster/configs", json={ISOLATION: isolation_before}, timeout=10)
