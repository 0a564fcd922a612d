# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs pinot_schema (and pinot_table: plugins/action/pinot_table.py is this class) with `src` found the way
Ansible finds a file: a relative path is looked up in the role's files/ (and the roles it is a dependency of),
then the playbook directory's files/ and the playbook directory itself, on the controller, and the module gets
the absolute path.

Only on a local connection (the modules talk to APIs and usually run on the controller): on any other the module
runs on another host, which does not have the controller's files, so `src` is left as given and read there, as
kubernetes.core does. An absolute path (or one starting with ~) is never searched for.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

LOCAL_TRANSPORTS = ("local", "ansible.builtin.local")


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    # The module options that name a file on the controller.
    FILE_OPTIONS = ("src",)

    def _find_file(self, option, path):
        """The absolute path of the file `path` names, searched for as `copy` and `template` do."""
        try:
            return self._find_needle("files", path)
        except AnsibleFileNotFound as exc:
            searched = f": searched {', '.join(exc.paths)}" if exc.paths else ""
            raise AnsibleActionFail(f"{option}: cannot find {path!r} on the controller{searched}") from None
        except AnsibleError as exc:
            raise AnsibleActionFail(f"{option}: cannot find {path!r} on the controller: {to_text(exc)}") from None

    def resolved_args(self):
        """The task's arguments with every relative file option replaced by the file's absolute path."""
        args = dict(self._task.args)
        if getattr(self._connection, "transport", None) not in LOCAL_TRANSPORTS:
            return args
        for option in self.FILE_OPTIONS:
            path = args.get(option)
            if isinstance(path, str) and path and not os.path.isabs(os.path.expanduser(path)):
                args[option] = self._find_file(option, path)
        return args

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # no longer has an effect
        module_args = self.resolved_args()  # AnsibleActionFail: the task fails with its message
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(module_args=module_args, task_vars=task_vars,
                                                         wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
