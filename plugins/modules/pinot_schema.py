#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_schema
short_description: Create, update or delete an Apache Pinot schema
version_added: 1.0.0
description:
  - Makes a schema on the Pinot controller match a definition, writing only when the live schema differs.
  - The comparison folds away what Pinot adds or rewrites on save (field types, default null values,
    C(singleValueField), C(enableColumnBasedNullHandling), field order), so a second run sends no write.
  - When the live schema still differs, the controller decides. The definition goes through its
    C(/schemas/validate) endpoint, which returns the schema as Pinot would store it (for example
    C(1:MILLISECONDS:TIMESTAMP) stored as C(TIMESTAMP)), and a write happens only when that differs from the live
    schema. Keys Pinot would silently drop are refused and named. Keys Pinot lists as unrecognized only because
    their value is the default it leaves out (C(notNull=false)) are accepted; the module tells the two apart by
    asking the controller again with another value.
  - A backward-incompatible change (a removed column, a changed data type or single/multi-value, changed
    primary keys on Pinot 1.5+) fails clearly unless O(force=true).
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description:
      - Schema name. Defaults to C(schemaName) of the definition; if both are given they must match.
      - Required with O(state=absent) when no definition is given.
    type: str
  schema:
    description:
      - The schema as Pinot's JSON object (C(schemaName), C(dimensionFieldSpecs), C(metricFieldSpecs),
        C(dateTimeFieldSpecs), C(primaryKeyColumns), ...).
      - Mutually exclusive with O(src).
    type: dict
    aliases: [definition]
  definitions:
    description:
      - Many schemas in one task, each a dict like O(schema). Every definition is read (concurrently) and
        validated before the first write, so a bad one stops the task with nothing written.
      - The fast path for scheduled reconciles of many objects. Mutually exclusive with O(name), O(schema) and O(src).
      - The result's C(invocation) gives the number of definitions instead of echoing them back; C(results)
        has one entry per definition.
    type: list
    elements: dict
  src:
    description:
      - Path to a JSON or YAML file holding the schema. Mutually exclusive with O(schema).
      - A relative path is looked up on the controller the way M(ansible.builtin.copy) finds its
        O(ansible.builtin.copy#module:src) when the module runs on a local connection (also when delegated to
        C(localhost)) - the role's C(files/) directory, then the playbook directory's C(files/) and the playbook
        directory. On any other connection the path is read on the host where the module runs. An absolute
        path, or one starting with C(~), is used as given.
    type: path
  force:
    description:
      - Apply a backward-incompatible change. Existing segments keep their old columns until reloaded or
        rebuilt; use with care. Needs Pinot 1.4 or later for updates.
    type: bool
    default: false
  reload:
    description:
      - After an update, reload every segment of the tables the schema belongs to (both types of the table named
        like it), so new columns become queryable at once, and wait until each reload job has reloaded every
        segment. Only done when the schema really changed; M(pinotops.k8s.pinot_table_reload) reloads when the
        servers say it is needed.
    type: bool
    default: false
  reload_timeout:
    description: Seconds to wait for each reload job of O(reload).
    type: int
    default: 300
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.STATE
"""

EXAMPLES = r"""
- name: Schema for the events table
  pinotops.k8s.pinot_schema:
    controller_url: http://localhost:9000
    schema:
      schemaName: events
      dimensionFieldSpecs:
        - name: country
          dataType: STRING
      metricFieldSpecs:
        - name: clicks
          dataType: LONG
      dateTimeFieldSpecs:
        - name: ts
          dataType: TIMESTAMP
          format: "1:MILLISECONDS:TIMESTAMP"
          granularity: "1:MILLISECONDS"

- name: Same schema from a file, reloading tables after an update
  pinotops.k8s.pinot_schema:
    controller_url: http://localhost:9000
    src: files/events-schema.json
    reload: true

- name: Remove the schema (fails while a table still uses it)
  pinotops.k8s.pinot_schema:
    controller_url: http://localhost:9000
    name: events
    state: absent
"""

RETURN = r"""
schema:
  description: The schema as Pinot stores it after the run (predicted in check mode); null when absent.
  returned: unless O(definitions) is given
  type: dict
changes:
  description: Dotted paths of the normalised schema that changed (or would change in check mode).
  returned: unless O(definitions) is given
  type: list
  elements: str
  sample: ["dimensionFieldSpecs (added)"]
results:
  description: With O(definitions), one entry per definition with its C(name), C(changed) and C(changes).
  returned: when O(definitions) is given
  type: list
  elements: dict
executed_requests:
  description: Every write request sent to the controller, as C(METHOD /path?query). Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["PUT /schemas/events?reload=false"]
reload:
  description:
    - Outcome of O(reload) - C(status) V(done) with one entry per table type in C(reloads) (as
      M(pinotops.k8s.pinot_table_reload) returns them), or V(skipped) with the C(reason) when no table uses the
      schema.
  returned: when O(reload=true) and the schema was updated (not in check mode)
  type: dict
  sample: {"status": "done", "reloads": [{"table_type": "OFFLINE", "need_reload": true, "job_id": "8c1e...",
           "status": "done", "reloaded_segments": 4, "segments": 4, "need_reload_after": false}]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import fills, run_reconcile
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.schema import build


def main():
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        name=dict(type="str"),
        schema=dict(type="dict", aliases=["definition"]),
        definitions=dict(type="list", elements="dict"),
        src=dict(type="path"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        force=dict(type="bool", default=False),
        reload=dict(type="bool", default=False),
        reload_timeout=dict(type="int", default=300),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("schema", "src", "definitions"), ("name", "definitions")])
    run_reconcile(module, build, bulk=fills("schema"))


if __name__ == "__main__":
    main()
