#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_task
short_description: Schedule an Apache Pinot minion task type and wait for its tasks
version_added: 2.0.0
description:
  - Asks the controller to schedule a minion task type (C(POST /tasks/schedule)) for one table, or for every table
    whose config has the task type in C(task.taskTypeConfigsMap), then follows the tasks Pinot created until they
    end and reports each task's state and its subtasks' states.
  - Pinot's task generator decides what there is to do (input files not ingested yet, segments to merge). When it
    finds nothing, no task is created, the module reports C(changed=false) and lists no request in
    C(executed_requests) (the schedule request created nothing).
  - A subtask that fails fails the module, naming the task, the subtask, its table and Pinot's error. Pinot itself
    reports such a task as C(COMPLETED) (it never fails a task for a failed subtask); the module looks at the
    subtasks.
  - In check mode, nothing is sent. Pinot has no dry run of a task generator, so check mode reports the tables a
    run would ask Pinot to schedule for (C(tables)), the tasks still running for them (C(running)) and the state of
    the task queue, and predicts C(changed=true) whenever there is such a table; whether the generator finds work
    is only known when it runs.
author:
  - pinotops maintainers (@pinotops)
options:
  task_type:
    description: The minion task type, as in the table config's C(task.taskTypeConfigsMap)
      (V(SegmentGenerationAndPushTask), V(MergeRollupTask), V(RealtimeToOfflineSegmentsTask), ...).
    type: str
    required: true
  table:
    description:
      - The table to schedule for. A raw name means each of its types whose config has O(task_type); a
        C(_OFFLINE) or C(_REALTIME) suffix means that type only. The table must have O(task_type) in its task
        config.
      - Left out, every table whose config has O(task_type) (one request; Pinot may put subtasks of several tables
        into one task).
    type: str
  minion_instance_tag:
    description: Run the tasks on the minions of this tag instead of the one the table's task config names (Pinot's
      C(minionInstanceTag)); Pinot refuses a tag no minion has.
    type: str
  wait:
    description: Wait until every scheduled task has ended, and fail when a subtask failed.
      V(false) returns the tasks' states right after scheduling.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the tasks. A timeout fails the task (with C(changed) true, the tasks stay
      scheduled).
    type: int
    default: 600
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
attributes:
  check_mode:
    support: partial
    description: Can run in check mode and predict C(changed) without sending a write.
    details: Sends nothing. Reports the tables a run would schedule for, the running tasks and the queue state, and
      predicts C(changed=true) when there is a table; Pinot cannot tell in advance whether its generator will find
      work.
  diff_mode:
    support: full
    description: Shows the tasks scheduled with their states (C(scheduled), empty before); in check mode, the tables
      a run would schedule for.
"""

EXAMPLES = r"""
- name: Ingest the new files of the web_logs input directory and wait for the segments
  pinotops.k8s.pinot_task:
    controller_url: http://localhost:9000
    task_type: SegmentGenerationAndPushTask
    table: web_logs_OFFLINE
    wait_timeout: 300
  register: ingest

- name: Which tables would a merge-rollup run ask Pinot about? (sends nothing)
  pinotops.k8s.pinot_task:
    controller_url: http://localhost:9000
    task_type: MergeRollupTask
  check_mode: true
"""

RETURN = r"""
task_type:
  description: The task type.
  returned: always
  type: str
  sample: SegmentGenerationAndPushTask
tables:
  description: The tables (with type) the schedule covered, or would cover in check mode.
  returned: always
  type: list
  elements: str
  sample: ["web_logs_OFFLINE"]
queue_state:
  description: The state of the type's task queue before the run (V(IN_PROGRESS), V(STOPPED), ...); null when the
    type has no queue yet (it was never scheduled) or no table has the type. A stopped queue fails the run before
    anything is sent.
  returned: always
  type: str
running:
  description: Tasks of the type for those tables that had not ended before the run, with their states (the
    generator leaves out the work they already do).
  returned: always
  type: dict
  sample: {}
tasks:
  description: The tasks scheduled. Empty when nothing was scheduled (and in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Pinot's task name (C(Task_<type>_<uuid>_<timestamp>)).
      type: str
    state:
      description: The task's state (V(COMPLETED), V(IN_PROGRESS), V(NOT_STARTED), V(FAILED), V(ABORTED),
        V(TIMED_OUT), ...) when the module returned.
      type: str
    subtasks:
      description: Each subtask's state (V(COMPLETED), V(RUNNING), V(TASK_ERROR), ...; null before a minion took
        it).
      type: dict
    errors:
      description: Per failed subtask, its table and Pinot's error.
      type: dict
      returned: when a subtask failed
  sample: [{"name": "Task_SegmentGenerationAndPushTask_5b0f...", "state": "COMPLETED",
            "subtasks": {"Task_SegmentGenerationAndPushTask_5b0f..._0": "COMPLETED"}}]
changes:
  description: C(schedule <task name>) per task scheduled; in check mode C(schedule <type> for <table>) per table.
  returned: always
  type: list
  elements: str
executed_requests:
  description: The schedule requests that created tasks, as C(METHOD /path?query). Empty when nothing was
    scheduled.
  returned: always
  type: list
  elements: str
  sample: ["POST /tasks/schedule?taskType=SegmentGenerationAndPushTask&tableName=web_logs_OFFLINE"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_operation
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.task import apply


def main():
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        task_type=dict(type="str", required=True),
        table=dict(type="str"),
        minion_instance_tag=dict(type="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_operation(module, apply)


if __name__ == "__main__":
    main()
