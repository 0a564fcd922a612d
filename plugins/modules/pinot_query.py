#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_query
short_description: Run a SQL query on Apache Pinot and return its rows
version_added: 2.0.0
description:
  - Sends one SQL statement to Pinot and returns the answer as column names, column types, rows and records, with
    the broker's statistics (documents scanned, servers queried and responded, time used).
  - By default the query goes to the controller (C(POST /sql) on O(controller_url)), which relays it to a broker
    serving the queried table, so a play needs no connection other than the one every Pinot module has. With
    O(broker_url) it goes to that broker directly (C(POST /query/sql)).
  - A query only reads. The task never reports C(changed) and sends no write (RV(executed_requests) is empty); an
    C(INSERT INTO ... FROM FILE), Pinot's only statement that writes, is refused before anything is sent.
  - Pinot answers a query it cannot run (bad SQL, unknown table or column, a timeout) with a list of exceptions;
    the task fails with each error code and message. A result some servers did not contribute to fails too, unless
    O(fail_on_partial=false).
author:
  - pinotops maintainers (@pinotops)
options:
  sql:
    description:
      - The SQL statement, as the Pinot query console takes it. C(SET key = value;) statements before it set query
        options, as in Pinot.
    type: str
    required: true
  query_options:
    description:
      - Pinot query options, sent as the request's C(queryOptions) (C(name=value;...)), for example
        C(timeoutMs), C(useMultistageEngine), C(maxExecutionThreads), C(enableNullHandling).
      - Values are strings, numbers or booleans (sent as V(true)/V(false)); neither names nor values may hold
        C(;) or C(=).
      - With C(timeoutMs), the HTTP wait is at least that long plus five seconds, so Pinot's own timeout answers
        first.
    type: dict
  broker_url:
    description:
      - Base URL of a broker (its query port, for example V(http://pinot-broker:8099)). The query is sent to that
        broker instead of through the controller.
      - The connection's credentials (O(username)/O(password) or O(token)) and TLS settings are used for the broker
        too; the controller forwards the same headers when it relays a query.
      - O(controller_url) is still required, as for every module of the group, but not contacted.
    type: str
  fail_on_partial:
    description:
      - Fail when Pinot returns rows but also exceptions, when fewer servers responded than were queried, or when
        Pinot marks the result partial (C(partialResult)).
      - V(false) returns the partial rows with RV(partial=true), the exceptions and a warning. A query without any
        result table fails either way.
    type: bool
    default: true
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
attributes:
  check_mode:
    support: full
    description: A query is a read, so it runs in check mode too and returns the same result.
  diff_mode:
    support: none
    description: A query changes nothing; there is nothing to diff.
notes:
  - A module rather than a lookup plugin, on purpose. A module takes the connection from C(module_defaults) and the
    C(group/pinotops.k8s.pinot) action group like every other Pinot module, runs where they run (the host that can
    reach the controller, often a bastion or the Ansible controller through C(delegate_to)), and reports Pinot's
    exceptions as a failed task with their error codes. A lookup would run on the Ansible controller only and see
    none of the group's defaults.
  - Pinot answers a selection without C(LIMIT) with 10 rows; write the C(LIMIT) you need.
  - RV(rows) and RV(records) hold the same values. When two columns share a name (C(SELECT a.id, b.id ...)), the
    record keeps the last one; RV(rows) has them all.
  - Values are as the broker sends them in JSON, in the order of RV(columns).
seealso:
  - name: Pinot query options
    description: Every option Pinot accepts in C(queryOptions).
    link: https://docs.pinot.apache.org/users/user-guide-query/query-options
"""

EXAMPLES = r"""
- name: Count the rows of events through the controller (the number is counted.records[0].total)
  pinotops.k8s.pinot_query:
    controller_url: http://localhost:9000
    sql: SELECT COUNT(*) AS total FROM events
  register: counted

- name: The last five events, from one broker, with a timeout
  pinotops.k8s.pinot_query:
    controller_url: http://localhost:9000
    broker_url: http://pinot-broker:8099
    sql: SELECT id, ts FROM events ORDER BY ts DESC LIMIT 5
    query_options:
      timeoutMs: 10000
  register: latest

- name: A join, which needs the multi-stage engine
  pinotops.k8s.pinot_query:
    controller_url: http://localhost:9000
    sql: SELECT a.id, COUNT(*) AS n FROM events a JOIN events b ON a.id = b.id GROUP BY a.id ORDER BY a.id LIMIT 10
    query_options:
      useMultistageEngine: true
"""

RETURN = r"""
columns:
  description: The column names of the result, in order.
  returned: success
  type: list
  elements: str
  sample: ["id", "ts"]
column_types:
  description: Pinot's data type of each column (C(INT), C(LONG), C(STRING), C(DOUBLE), C(STRING_ARRAY) ...).
  returned: success
  type: list
  elements: str
  sample: ["STRING", "LONG"]
rows:
  description: The rows, each a list of values in the order of RV(columns).
  returned: success
  type: list
  elements: list
  sample: [["e-42", 1767225600000]]
records:
  description: The same rows as dicts keyed by column name.
  returned: success
  type: list
  elements: dict
  sample: [{"id": "e-42", "ts": 1767225600000}]
num_rows:
  description: How many rows came back.
  returned: success
  type: int
  sample: 1
partial:
  description: Whether the result is partial (only with O(fail_on_partial=false); otherwise a partial result fails).
  returned: success
  type: bool
  sample: false
exceptions:
  description: Pinot's exceptions, C(errorCode) and C(message) each. Empty on a complete result; on a failure,
    what Pinot answered.
  returned: success, and on a failure that Pinot answered with exceptions
  type: list
  elements: dict
  sample: [{"errorCode": 150, "message": "SQLParsingError: ..."}]
stats:
  description: The scalar statistics of the broker's answer as it sends them, for example C(numDocsScanned),
    C(totalDocs), C(timeUsedMs), C(numServersQueried), C(numServersResponded), C(numSegmentsQueried),
    C(numSegmentsProcessed), C(numSegmentsMatched), C(numEntriesScannedInFilter), C(requestId), C(brokerId). Which
    keys come depends on the Pinot version and the engine.
  returned: success
  type: dict
  sample: {"numDocsScanned": 3, "totalDocs": 3, "timeUsedMs": 4, "numServersQueried": 1, "numServersResponded": 1}
via:
  description: Where the query was sent, V(controller) or V(broker) (O(broker_url)).
  returned: success
  type: str
  sample: controller
executed_requests:
  description: Write requests sent. Always empty; a query is a read.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_operation
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.query import apply


def main():
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        sql=dict(type="str", required=True),
        query_options=dict(type="dict"),
        broker_url=dict(type="str"),
        fail_on_partial=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_operation(module, apply)


if __name__ == "__main__":
    main()
