"""pinot_task's engine on a scripted controller (no network): schedule, wait, report, fail naming the subtask."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import client as pinot_client
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import task as task_utils
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError

TYPE = "SegmentGenerationAndPushTask"


class MinionController(PinotClient):
    """Tables `logs` (OFFLINE with the task type, REALTIME without) and `other` (OFFLINE with it). `files` are the
    inputs not ingested yet, per table; a schedule makes one subtask per file, and a task ends after `lag` state
    reads. A file named `bad*` fails its subtask. Answers like Pinot 1.5.1 (measured)."""

    def __init__(self, files=None, lag=1, queue=None, errors=None):
        super().__init__("http://pinot.invalid")
        self.files = files if files is not None else {"logs_OFFLINE": ["a.csv", "b.csv"]}
        self.lag, self.queue, self.errors = lag, queue, errors
        self.tasks = {}
        self.reads = []

    def config(self, name, kind, task_types):
        return {"tableName": f"{name}_{kind}", "task": {"taskTypeConfigsMap": {t: {} for t in task_types}}}

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
        if method == "GET":
            self.reads.append(path)
            return self.get_answer(path, params)
        display = path + pinot_client._query_string(params)
        self.executed_requests.append(f"{method} {display}")
        assert (method, path) == ("POST", "/tasks/schedule"), path
        return self.schedule(params)

    def get_answer(self, path, params):
        if path == "/tables/logs":
            return {"OFFLINE": self.config("logs", "OFFLINE", [TYPE]), "REALTIME": self.config("logs", "REALTIME", [])}
        if path.startswith("/tables/"):
            return None
        if path == "/tables":
            return {"tables": sorted(t for t in ("logs_OFFLINE", "other_OFFLINE") if params["taskType"] == TYPE)}
        if path == f"/tasks/{TYPE}/state":
            return self.queue
        if path.startswith(f"/tasks/{TYPE}/") and path.endswith("/state"):
            assert self.queue, "Pinot answers 500 without a task queue"
            return {name: task["state"] for name, task in self.tasks.items()}
        name = path.split("/")[3]
        task = self.tasks.get(name)
        if path.startswith("/tasks/task/") and path.endswith("/state"):
            if task is None:
                return None
            task["reads"] += 1
            if task["reads"] > self.lag:
                task["state"] = "COMPLETED"  # Pinot never fails a task for its subtasks
            return task["state"]
        if path.startswith("/tasks/subtask/"):
            done = task["state"] == "COMPLETED"
            return {f"{name}_{i}": ("TASK_ERROR" if file.startswith("bad") else "COMPLETED") if done else None
                    for i, file in enumerate(task["files"])}
        if path.endswith("/debug"):
            assert params == {"verbosity": 0}
            return {"taskState": task["state"], "subtaskInfos": [
                {"taskId": f"{name}_{i}", "state": "TASK_ERROR",
                 "info": f"java.lang.RuntimeException: Failed to execute {TYPE}\n\tat org.a.B(B.java:1)",
                 "taskConfig": {"configs": {"tableName": task["table"], "input.data.file.uri": f"file:/in/{file}",
                                            "input.fs.prop.secretKey": "s3cr3t"}}}
                for i, file in enumerate(task["files"]) if file.startswith("bad")]}
        raise AssertionError(path)

    def schedule(self, params):
        assert params["taskType"] == TYPE
        if self.errors:
            return {"generationErrors": "", "schedulingErrors": self.errors}
        tables = [params["tableName"]] if params.get("tableName") else sorted(self.files)
        names = []
        for table in tables:
            files = self.files.pop(table, [])
            if files:
                name = f"Task_{TYPE}_{len(self.tasks)}"
                self.tasks[name] = {"state": "NOT_STARTED", "reads": 0, "files": files, "table": table}
                names.append(name)
        self.queue = self.queue or "IN_PROGRESS"
        return {TYPE: ",".join(names), "generationErrors": "", "schedulingErrors": ""}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(pinot_client.time, "sleep", lambda seconds: None)


def run(client, check_mode=False, **params):
    return task_utils.apply(client, dict({"task_type": TYPE, "wait": True, "wait_timeout": 30}, **params), check_mode)


def test_schedules_waits_reports_and_a_rerun_with_nothing_new_writes_nothing():
    client = MinionController()
    predicted = run(client, check_mode=True, table="logs")
    assert (predicted["changed"], predicted["tables"], client.executed_requests) == (True, ["logs_OFFLINE"], [])
    assert predicted["changes"] == [f"schedule {TYPE} for logs_OFFLINE"]
    assert predicted["diff"]["after"] == {"scheduled": {f"{TYPE} for logs_OFFLINE": "would schedule"}}
    assert "no dry run" in predicted["warnings"][0]
    assert predicted["queue_state"] is None and predicted["running"] == {}

    done = run(client, table="logs")
    assert client.executed_requests == [f"POST /tasks/schedule?taskType={TYPE}&tableName=logs_OFFLINE"]
    assert done["changed"] is True and done["changes"] == [f"schedule Task_{TYPE}_0"]
    assert done["tasks"] == [{"name": f"Task_{TYPE}_0", "state": "COMPLETED",
                              "subtasks": {f"Task_{TYPE}_0_0": "COMPLETED", f"Task_{TYPE}_0_1": "COMPLETED"}}]
    assert done["diff"] == {"before": {"scheduled": {}}, "after": {"scheduled": {f"Task_{TYPE}_0": "COMPLETED"}}}

    reads = client.read_count
    again = run(client, table="logs_OFFLINE")
    assert (again["changed"], again["tasks"], len(client.executed_requests)) == (False, [], 1)
    assert again["queue_state"] == "IN_PROGRESS" and again["running"] == {}
    assert client.read_count > reads  # the schedule that created nothing counts as a read


def test_without_a_table_one_request_covers_every_table_of_the_type():
    client = MinionController(files={"logs_OFFLINE": ["a.csv"], "other_OFFLINE": ["b.csv"]})
    done = run(client)
    assert client.executed_requests == [f"POST /tasks/schedule?taskType={TYPE}"]
    assert done["tables"] == ["logs_OFFLINE", "other_OFFLINE"]
    assert [task["name"] for task in done["tasks"]] == [f"Task_{TYPE}_0", f"Task_{TYPE}_1"]


def test_a_failed_subtask_fails_the_run_naming_it_its_table_file_and_error_never_a_secret():
    client = MinionController(files={"logs_OFFLINE": ["a.csv", "bad.csv"]})
    with pytest.raises(task_utils.TasksFailed) as failed:
        run(client, table="logs")
    message = str(failed.value)
    assert message == (f"1 of 2 {TYPE} subtask(s) failed: Task_{TYPE}_0 (COMPLETED): Task_{TYPE}_0_1: logs_OFFLINE "
                       "file:/in/bad.csv: java.lang.RuntimeException: Failed to execute SegmentGenerationAndPushTask")
    assert failed.value.extra_result["tasks"][0]["subtasks"][f"Task_{TYPE}_0_1"] == "TASK_ERROR"
    assert "s3cr3t" not in repr(failed.value.extra_result) and "s3cr3t" not in message
    assert client.executed_requests == [f"POST /tasks/schedule?taskType={TYPE}&tableName=logs_OFFLINE"]


def test_without_wait_the_states_right_after_scheduling():
    client = MinionController(lag=5)
    done = run(client, table="logs", wait=False, minion_instance_tag="minion_untagged")
    assert client.executed_requests == [
        f"POST /tasks/schedule?taskType={TYPE}&tableName=logs_OFFLINE&minionInstanceTag=minion_untagged"]
    assert done["tasks"][0]["state"] == "NOT_STARTED"
    assert set(done["tasks"][0]["subtasks"].values()) == {None}


def test_tasks_not_finished_in_time_fail_with_their_states(monkeypatch):
    client = MinionController(lag=10**6)
    clock = iter(range(0, 10**6, 10))
    monkeypatch.setattr(task_utils, "poll_until", _with_clock(task_utils.poll_until, lambda: next(clock)))
    with pytest.raises(PinotError, match=rf"tasks not finished after 30s: Task_{TYPE}_0 NOT_STARTED"):
        run(client, table="logs")
    assert len(client.executed_requests) == 1  # scheduled: the failure reports changed


def _with_clock(poll_until, clock):
    def patched(*args, **kwargs):
        return poll_until(*args, clock=clock, sleep=lambda seconds: None, **kwargs)
    return patched


def test_a_scheduling_error_fails_and_a_schedule_that_created_nothing_is_no_write():
    client = MinionController(errors="No valid minion instance found for tag: nosuchtag")
    with pytest.raises(PinotError, match="could not schedule SegmentGenerationAndPushTask for logs_OFFLINE: No "
                                         "valid minion instance found for tag: nosuchtag"):
        run(client, table="logs", minion_instance_tag="nosuchtag")
    assert client.executed_requests == []


def test_a_stopped_queue_is_refused_before_any_write():
    client = MinionController(queue="STOPPED")
    with pytest.raises(SpecError, match="task queue of SegmentGenerationAndPushTask is STOPPED") as refused:
        run(client, table="logs")
    assert refused.value.field == "task_type" and client.executed_requests == []


def test_running_tasks_of_the_table_are_reported():
    client = MinionController(lag=10**6, queue="IN_PROGRESS")
    client.tasks["Task_old"] = {"state": "IN_PROGRESS", "reads": 0, "files": [], "table": "logs_OFFLINE"}
    client.tasks["Task_older"] = {"state": "COMPLETED", "reads": 0, "files": [], "table": "logs_OFFLINE"}
    predicted = run(client, check_mode=True, table="logs")
    assert predicted["running"] == {"Task_old": "IN_PROGRESS"}


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"table": "missing"}, "table", "no table named 'missing'"),
    ({"table": "logs_REALTIME"}, "table", "logs_REALTIME has no SegmentGenerationAndPushTask in its task config"),
    ({"task_type": " "}, "task_type", "a task type is required"),
    ({"table": "logs", "wait_timeout": 0}, "wait_timeout", "positive"),
])
def test_bad_input_names_the_field_and_writes_nothing(params, field, message):
    client = MinionController()
    with pytest.raises(SpecError, match=message) as refused:
        run(client, **params)
    assert refused.value.field == field and client.executed_requests == []


def test_no_table_configured_for_the_type_is_nothing_to_do():
    client = MinionController()
    done = run(client, task_type="MergeRollupTask")
    assert (done["changed"], done["tables"], client.executed_requests) == (False, [], [])
    assert done["warnings"] == ["no table has MergeRollupTask in its task config: nothing to schedule"]


def test_tasks_pinot_cannot_list_are_a_warning_not_a_failure():
    class Broken(MinionController):
        def get_answer(self, path, params):
            if path == f"/tasks/{TYPE}/logs_OFFLINE/state":
                raise PinotError("GET", path, 500, 'Cannot invoke "org.apache.helix.task.JobConfig.getTaskConfigMap()"')
            return super().get_answer(path, params)

    client = Broken(queue="IN_PROGRESS")
    done = run(client, table="logs")
    assert done["changed"] is True and done["running"] == {}
    assert done["warnings"] == [f"Pinot could not list the {TYPE} tasks of logs_OFFLINE: Cannot invoke "
                                '"org.apache.helix.task.JobConfig.getTaskConfigMap()"']
