"""docs/performance.md from one `make bench` run: the table, the machine, per-task times; then the
hand-written analysis (profile findings, targets) kept in tests/bench/analysis.md."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PLOT_NAME = "performance-noop.png"


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (of an even number, the upper of the two middle ones)."""
    return sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]


def _profile_lines(results: dict[str, Any]) -> list[str]:
    """The x5 estate's requests by kind, with the time the controller (or apiserver) took to answer them, as the
    counting proxy timed them: where a run's time goes on the server side."""
    x5 = results.get("x5") or {}
    lines = []
    for key, label in (("first", "first apply"), ("noop", "no-op")):
        runs = (x5.get(key) or {}).get("ours") or []
        if not runs or "profile" not in runs[0]:
            continue
        run = median_run(runs)
        if not lines:
            lines = ["| run | request | requests | answered in, summed s | mean ms |", "|---|---|---|---|---|"]
        for system in ("pinot", "k8s"):
            spent = sorted(run["profile"][system].items(), key=lambda item: -item[1][1])
            for what, (count, seconds) in spent:
                lines.append(f"| x5 {label} ({run['wall']:.1f} s) | {'Pinot' if system == 'pinot' else 'k8s'} "
                             f"{what} | {count} | {seconds:.1f} | {1000 * seconds / count:.0f} |")
    return lines


def _task_lines(results: dict[str, Any]) -> list[str]:
    lines = ["| scenario | side | task | module executions | wall s |", "|---|---|---|---|---|"]
    x5 = results.get("x5") or {}
    measured = [(label, side, (source.get(key) or {}).get(side) or [])
                for source, key, label in ((results, "noop", "no-op"), (results, "first", "first apply"),
                                           (x5, "noop", "no-op, x5 estate"), (x5, "first", "first apply, x5 estate"))
                for side in ("ours", "baseline")]
    measured += [(label, "ours", results.get(key) or [])
                 for key, label in (("upgrade_role", "upgrade, role"), ("upgrade", "upgrade, one task per pod"),
                                    ("upgrade_real_node", "upgrade, real node, role"))]
    for label, side, runs in measured:
        if runs:
            run = median_run(runs)
            for task, seconds in run["task_seconds"].items():
                lines.append(f"| {label} | {side} | {task} | {run.get('per_task', {}).get(task, '')} | {seconds:.1f} |")
    return lines


def _upgrade_profile_lines(results: dict[str, Any]) -> list[str]:
    """Where an upgrade's time goes, from pinot_cluster_rollout's own timings: the parts of the wall time over the
    pods' own restarts (the floor), in total and per pod."""
    lines = []
    for key, label in (("upgrade_role", "kwok, 12 pods"), ("upgrade_real_node", "real node, 6 Pinot pods")):
        runs = results.get(key) or []
        if not runs or not runs[0].get("rollouts"):
            continue
        run = median_run(runs)
        rollout, pods = run["rollouts"][0], run["pods"]
        steps = rollout["steps"]
        in_steps = sum(step["seconds"] or 0 for step in steps)
        checks = sum(step["check_seconds"] or 0 for step in steps)
        ready = sum(step["ready_seconds"] or 0 for step in steps)
        gates = sum(gate["seconds"] for step in steps for gate in step["gates"])
        parts = (
            ("ansible-playbook around the module (start-up, the role's argument validation, the result)",
             run["wall"] - rollout["elapsed_seconds"]),
            ("pre-flight (settle read, every group Ready, cluster gate, version order)", rollout["preflight_seconds"]),
            ("each group's plan (a dry run) and, where needed, its release", rollout["elapsed_seconds"]
             - rollout["preflight_seconds"] - in_steps),
            ("the checks before each restart", checks),
            ("each step's apply and wait for Ready, less the pods' own restarts", ready - run["floor"]),
            ("the Pinot gates after each restart", gates),
            ("the rest of the steps (their progress lines, pauses between steps)", in_steps - checks - ready - gates),
        )
        if not lines:
            lines = ["| upgrade | part | s | s per pod |", "|---|---|---|---|"]
        lines += [f"| {label} | {part} | {seconds:.1f} | {seconds / pods:.2f} |" for part, seconds in parts]
        lines.append(f"| {label} | **over the pods' own restarts** ({run['wall']:.1f} s wall, floor {run['floor']} s) "
                     f"| {run['wall'] - run['floor']:.1f} | {(run['wall'] - run['floor']) / pods:.2f} |")
    return lines


def write_doc(out: Path, table: str, info: dict[str, str], results: dict[str, Any], args: Any) -> None:
    uname = os.uname()
    parts = [
        "# Performance",
        "",
        "Generated by `make bench` (`python -m tests.bench`, see `tests/bench/`) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Numbers are from that run; the machine is shared "
        "with other engineers' builds and tests, so the load average at each measured run is in the table.",
        "",
        "## Results",
        "",
        f"Wall time is the median of the runs listed in brackets ({args.runs} for pinotops.k8s, "
        f"{args.baseline_runs} for the baseline, {args.upgrade_runs} for the upgrade). "
        "Counts are of the median run (they are the same in every run). "
        "Pinot reads are GETs; POSTs to the read-only `/schemas/validate` and `/tables/validate` endpoints are "
        "shown apart. Kubernetes reads are GET/LIST; server-side dry runs (`dryRun=All`, nothing stored) are "
        "shown apart from writes. Module executions count every task run and every loop item that ran "
        "(skipped items excluded).",
        "",
        table,
        "",
        *([f"![No-op reconcile against estate size]({PLOT_NAME})", ""] if (out.parent / PLOT_NAME).exists() else []),
        "## Machine",
        "",
        "| what | value |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in info.items()],
        f"| host | {uname.sysname} {uname.machine} |",
        "",
        "## Where the time goes (median run, per task)",
        "",
        *_task_lines(results),
        "",
    ]
    upgrade = _upgrade_profile_lines(results)
    if upgrade:
        parts += ["## Where an upgrade's time goes", "",
                  "From the timings pinot_cluster_rollout returns (`preflight_seconds`, per step `check_seconds`, "
                  "`ready_seconds`, the gates' `seconds`), against the playbook's wall time and the pods' own "
                  "restart-to-Ready times measured beside it.", "", *upgrade, ""]
    profile = _profile_lines(results)
    if profile:
        parts += ["## Where the time goes in the x5 estate (per kind of request)", "",
                  "The time from the counting proxy sending a request to the server until the answer, summed per "
                  "kind of request (a read runs 8 at a time beside others: its sum is above its share of the wall "
                  "time; the writes and validates of the bulk path run one after the other).", "",
                  *profile, ""]
    analysis = HERE / "analysis.md"
    if analysis.exists():
        parts.append(analysis.read_text().rstrip() + "\n")
    out.write_text("\n".join(parts))
