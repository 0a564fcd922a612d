# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Minion tasks: schedule a task type for a table (or every table that has it), follow the tasks to their end.

Pinot decides what a task type has to do: `POST /tasks/schedule` runs the type's generator over the tables whose
config has the type in `task.taskTypeConfigsMap`, and the generator makes one subtask per piece of work (an input
file not ingested yet, a time window of segments to merge). A generator that finds nothing creates no task, so a
rerun with nothing new schedules nothing. Pinot has no dry run of a generator: check mode can name the tables a
run would ask about, the state of the type's task queue and the tasks still running, not the work the generator
would find.

A task is a Helix job of subtasks. Pinot never fails the job for a failed subtask (its failure threshold is
unlimited, so that one bad input does not stop the others): a task ends COMPLETED with subtasks in TASK_ERROR, and
the subtasks are what tells success from failure.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError, poll_until
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import TABLE_TYPES, TYPE_SUFFIX
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.table_names import raw_name

# Helix task states a task does not leave (Pinot's TaskGeneratorUtils: STOPPED is a pause, not an end).
FINAL_STATES = ("COMPLETED", "FAILED", "ABORTED", "TIMED_OUT")
FAILED_STATES = ("FAILED", "ABORTED", "TIMED_OUT")
# Helix subtask (partition) states of a subtask that did not do its work.
FAILED_SUBTASK_STATES = ("TASK_ERROR", "ERROR", "TIMED_OUT", "TASK_ABORTED", "DROPPED")
# Queue states in which Pinot schedules nothing (PinotTaskManager.isTaskSchedulable).
STOPPED_QUEUE = ("STOPPED", "STOPPING")
# The schedule response's keys beside the task types.
ERROR_KEYS = ("generationErrors", "schedulingErrors")
# What a subtask worked on, in its config: the input file (SegmentGenerationAndPushTask), the segments (the
# segment-processing tasks).
INPUT_FILE_KEY = "input.data.file.uri"
SEGMENTS_KEY = "segmentName"


def _type_of(name: str) -> str | None:
    return next((kind for kind, suffix in TYPE_SUFFIX.items() if name.endswith(suffix)), None)


def _task_types_of(config: dict[str, Any]) -> dict[str, Any]:
    return ((config or {}).get("task") or {}).get("taskTypeConfigsMap") or {}


def tables_for(client: PinotClient, task_type: str, table: str | None) -> list[str]:
    """The tables (with type) a schedule of `task_type` covers: `table`'s types whose config has the task type,
    or, without `table`, every table whose config has it. SpecError when `table` has none."""
    if table is None:
        found = client.get("/tables", params={"taskType": task_type}) or {}
        return sorted(found.get("tables") or [])
    name, wanted = raw_name(table), _type_of(table)
    configs = client.get("/tables/" + quote(name, safe=""), missing_ok=True) or {}
    types = [kind for kind in TABLE_TYPES if configs.get(kind) and wanted in (None, kind)]
    if not types:
        raise SpecError("table", f"no {wanted + ' ' if wanted else ''}table named '{name}'")
    having = [f"{name}_{kind}" for kind in types if task_type in _task_types_of(configs[kind])]
    if not having:
        named = " or ".join(f"{name}_{kind}" for kind in types)
        raise SpecError("table", f"{named} has no {task_type} in its task config (task.taskTypeConfigsMap): Pinot "
                                 "schedules a task type only for the tables configured for it")
    return having


def queue_state(client: PinotClient, task_type: str) -> str | None:
    """The state of the type's task queue (IN_PROGRESS, STOPPED, ...); None before its first task."""
    state = client.get(f"/tasks/{quote(task_type, safe='')}/state", missing_ok=True)
    return state if isinstance(state, str) and state else None


def incomplete_tasks(client: PinotClient, task_type: str, tables: list[str],
                     warnings: list[str]) -> dict[str, str]:
    """Tasks of the type for these tables that have not ended, with their state (the generators leave out what
    a running task already does). Only asked once the type has a task queue (without one Pinot answers 500).
    Informative only: when Pinot cannot answer (1.4.0 answers 500 for a queue holding a force-deleted task), a
    warning says so and the run goes on."""
    found = {}
    for table in tables:
        try:
            states = client.get(f"/tasks/{quote(task_type, safe='')}/{quote(table, safe='')}/state") or {}
        except PinotError as exc:
            if exc.status is None or exc.status < 500:
                raise
            warnings.append(f"Pinot could not list the {task_type} tasks of {table}: {_first_lines(exc.reason)}")
            continue
        found.update({name: state for name, state in states.items() if state not in FINAL_STATES})
    return dict(sorted(found.items()))


def schedule(client: PinotClient, task_type: str, table: str | None, minion_instance_tag: str | None) -> list[str]:
    """Ask Pinot to schedule; the names of the tasks it created. A schedule that created nothing is no write:
    it is taken out of `executed_requests` and counted as a read. PinotError on a generation or scheduling error
    (after the tasks it did create are recorded)."""
    params = {"taskType": task_type, "tableName": table, "minionInstanceTag": minion_instance_tag}
    response = client.post("/tasks/schedule", params={key: value for key, value in params.items() if value})
    response = response if isinstance(response, dict) else {}
    names = [name for name in (response.get(task_type) or "").split(",") if name]
    if not names:
        client.executed_requests.pop()
        client.read_count += 1
    errors = [str(response.get(key)).strip() for key in ERROR_KEYS if str(response.get(key) or "").strip()]
    if errors:
        where = f" for {table}" if table else ""
        raise PinotError("POST", "/tasks/schedule", reason=f"Pinot could not schedule {task_type}{where}"
                         f"{' (it scheduled ' + ', '.join(names) + ')' if names else ''}: "
                         + "; ".join(_first_lines(error, 2) for error in errors))
    return names


def _first_lines(text: str, lines: int = 1) -> str:
    """The message of a Java stack trace: its first lines, not the frames."""
    kept = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("at ")]
    return " ".join(kept[:lines])


def task_state(client: PinotClient, name: str) -> str | None:
    return client.get(f"/tasks/task/{quote(name, safe='')}/state", missing_ok=True)


def wait_for(client: PinotClient, names: list[str], timeout: int) -> dict[str, str | None]:
    """Poll the tasks' states until every one has ended; their states. PinotError after `timeout` seconds."""
    states: dict[str, str | None] = {name: None for name in names}

    def read():
        for name in names:
            if states[name] not in FINAL_STATES:
                states[name] = task_state(client, name)
        return states

    return dict(poll_until(
        read, lambda found: all(state in FINAL_STATES for state in found.values()), timeout,
        lambda found: PinotError("GET", "/tasks/task/{name}/state", reason=f"tasks not finished after {timeout}s: "
                                 + ", ".join(f"{name} {state or 'NOT_STARTED'}" for name, state in found.items())),
        interval=1.0))


def describe(client: PinotClient, name: str, state: str | None) -> dict[str, Any]:
    """One task for the result: its state, its subtasks' states and, for the failed ones, Pinot's error."""
    subtasks = client.get(f"/tasks/subtask/{quote(name, safe='')}/state", missing_ok=True) or {}
    entry = {"name": name, "state": state, "subtasks": dict(sorted(subtasks.items()))}
    failed = sorted(sub for sub, sub_state in subtasks.items() if sub_state in FAILED_SUBTASK_STATES)
    if failed or state in FAILED_STATES:
        entry["errors"] = subtask_errors(client, name, failed)
    return entry


def subtask_errors(client: PinotClient, name: str, failed: list[str]) -> dict[str, str]:
    """Pinot's message per failed subtask (Helix's partition info, a stack trace cut at 1,000 characters: its first
    line), with the table and the input file or segments it worked on. Only these are kept of the subtask's config
    (it may hold credentials of the input file system)."""
    debug = client.get(f"/tasks/task/{quote(name, safe='')}/debug", params={"verbosity": 0}, missing_ok=True) or {}
    errors = {}
    for info in debug.get("subtaskInfos") or []:
        sub = info.get("taskId")
        if sub not in failed and (failed or info.get("state") == "COMPLETED"):
            continue
        config = (info.get("taskConfig") or {}).get("configs") or {}
        on = [value for value in (config.get("tableName"), config.get(INPUT_FILE_KEY), config.get(SEGMENTS_KEY))
              if value]
        message = _first_lines(str(info.get("info") or info.get("state") or "no message"))
        errors[sub] = f"{' '.join(on)}: {message}" if on else message
    for sub in failed:
        errors.setdefault(sub, "no message")
    return errors


class TasksFailed(PinotError):
    """Tasks that ended with failed subtasks: the message names each with Pinot's error; `extra_result` keeps the
    tasks for the module's failure report."""

    def __init__(self, task_type: str, tasks: list[dict[str, Any]]) -> None:
        failed = [task for task in tasks if task.get("errors")]
        parts = [f"{task['name']} ({task['state']}): " + "; ".join(
            f"{sub}: {error}" for sub, error in task["errors"].items()) for task in failed]
        errors = sum(len(task["errors"]) for task in failed)
        subtasks = sum(len(task["subtasks"]) for task in tasks)
        super().__init__("GET", "/tasks/subtask/{task}/state", reason="")
        self.extra_result = {"tasks": tasks}
        self.args = (f"{errors} of {subtasks} {task_type} subtask(s) failed: " + " | ".join(parts),)

    def __str__(self) -> str:
        return self.args[0]


def apply(client: PinotClient, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """pinot_task: schedule the task type, wait for its tasks when told, fail naming the failed ones."""
    task_type = (params.get("task_type") or "").strip()
    if not task_type:
        raise SpecError("task_type", "a task type is required (e.g. SegmentGenerationAndPushTask)")
    timeout = params.get("wait_timeout", 600)
    if timeout is not None and timeout <= 0:
        raise SpecError("wait_timeout", "must be a positive number of seconds")
    table = params.get("table") or None
    tables = tables_for(client, task_type, table)
    if not tables:
        return dict(task_type=task_type, tables=[], queue_state=None, running={}, changed=False, tasks=[],
                    changes=[], diff=_diff({}),
                    warnings=[f"no table has {task_type} in its task config: nothing to schedule"])
    queue = queue_state(client, task_type)
    if queue in STOPPED_QUEUE:
        raise SpecError("task_type", f"the task queue of {task_type} is {queue}: Pinot schedules no task of a stopped "
                                     f"queue (resume it: PUT /tasks/{task_type}/resume)")
    warnings: list[str] = []
    running = incomplete_tasks(client, task_type, tables, warnings) if queue else {}
    result = dict(task_type=task_type, tables=tables, queue_state=queue, running=running, warnings=warnings)
    if check_mode:
        result["warnings"].append(
            f"check mode: Pinot has no dry run of the {task_type} generator; a run asks it to schedule for "
            f"{', '.join(tables)}, and it schedules only what it finds to do (nothing when nothing is new)")
        return dict(result, changed=True, tasks=[], changes=[f"schedule {task_type} for {name}" for name in tables],
                    diff=_diff({f"{task_type} for {name}": "would schedule" for name in tables}))

    names = []
    for target in tables if table else [None]:  # without a table, one request covers every table of the type
        names += schedule(client, task_type, target, params.get("minion_instance_tag"))
    if not names:
        return dict(result, changed=False, tasks=[], changes=[], diff=_diff({}))
    states = wait_for(client, names, timeout) if params.get("wait", True) else {
        name: task_state(client, name) for name in names}
    tasks = [describe(client, name, states[name]) for name in names]
    if any(task.get("errors") for task in tasks):
        raise TasksFailed(task_type, tasks)
    return dict(result, changed=True, tasks=tasks, changes=[f"schedule {name}" for name in names],
                diff=_diff({task["name"]: task["state"] for task in tasks}))


def _diff(scheduled: dict[str, Any]) -> dict[str, Any]:
    """What the run scheduled (task name: state), or would schedule in check mode (per table)."""
    return dict(before={"scheduled": {}}, after={"scheduled": scheduled})
