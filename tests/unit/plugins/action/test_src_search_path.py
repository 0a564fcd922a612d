"""`src` of pinot_schema and pinot_table is found through Ansible's files search path on the controller (a role's
files/, then the playbook's), as for copy or template, before the module runs.

The task, connection and play context are stand-ins (as in ansible-core's own action plugin tests); the loader is
Ansible's real DataLoader, so the search itself is Ansible's."""

from __future__ import annotations

from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail, AnsibleFileNotFound
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext

from ansible_collections.pinotops.k8s.plugins.action import pinot_logical_table, pinot_schema, pinot_table

MODULE_RESULT = {"changed": False, "schema": {}}


@pytest.fixture
def playbook(tmp_path):
    """A playbook directory with a role: roles/events/{tasks,files}, files/ of the playbook."""
    role = tmp_path / "roles" / "events"
    (role / "tasks").mkdir(parents=True)
    (role / "files").mkdir()
    (role / "files" / "events-schema.json").write_text('{"schemaName": "events"}')
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "events-table.json").write_text('{"tableName": "events"}')
    return tmp_path


def action(plugin, args, playbook, *, in_role=True, transport="local"):
    """The action plugin for a task of the `events` role (or of the playbook itself)."""
    role = playbook / "roles" / "events"
    task = mock.MagicMock(args=args, action=f"pinotops.k8s.{plugin.__name__.rsplit('.', 1)[1]}", async_val=0,
                          check_mode=False)
    task.get_search_path.return_value = [str(role), str(role / "tasks")] if in_role else [str(playbook)]
    connection = mock.MagicMock(transport=transport, has_native_async=False)
    connection._shell.tmpdir = "/remote/tmp"
    loader = DataLoader()
    loader.set_basedir(str(playbook))
    plugin_action = plugin.ActionModule(task, connection, PlayContext(), loader, templar=mock.MagicMock(),
                                        shared_loader_obj=None)
    plugin_action._execute_module = mock.MagicMock(return_value=dict(MODULE_RESULT))
    plugin_action._remove_tmp_path = mock.MagicMock()
    return plugin_action


def sent_args(plugin_action):
    (call,) = plugin_action._execute_module.call_args_list
    return call.kwargs["module_args"]


def test_a_relative_src_is_found_in_the_roles_files_directory(playbook):
    plugin_action = action(pinot_schema, {"src": "events-schema.json", "controller_url": "http://c:9000"}, playbook)
    assert plugin_action.run(task_vars={}) == MODULE_RESULT
    assert sent_args(plugin_action) == {"src": str(playbook / "roles" / "events" / "files" / "events-schema.json"),
                                        "controller_url": "http://c:9000"}
    # The module the task named runs (no module_name: the task's own action), its tmp dir removed after.
    assert "module_name" not in plugin_action._execute_module.call_args.kwargs
    plugin_action._remove_tmp_path.assert_called_once_with("/remote/tmp")


def test_files_of_the_playbook_and_a_files_prefix_are_found_too(playbook):
    for src in ("events-table.json", "files/events-table.json"):
        plugin_action = action(pinot_table, {"src": src}, playbook, in_role=False)
        plugin_action.run(task_vars={})
        assert sent_args(plugin_action)["src"] == str(playbook / "files" / "events-table.json")
    # From a role's task, the playbook's files/ is the last resort.
    plugin_action = action(pinot_table, {"src": "events-table.json"}, playbook)
    plugin_action.run(task_vars={})
    assert sent_args(plugin_action)["src"] == str(playbook / "files" / "events-table.json")


def test_absolute_paths_and_tasks_without_src_are_left_alone(playbook):
    for args in ({"src": "/srv/pinot/events-schema.json"}, {"src": "~/events-schema.json"},
                 {"schema": {"schemaName": "events"}}):
        plugin_action = action(pinot_schema, dict(args), playbook)
        with mock.patch.object(plugin_action, "_find_needle", side_effect=AssertionError("searched")) as find:
            plugin_action.run(task_vars={})
        find.assert_not_called()
        assert sent_args(plugin_action) == args


def test_on_a_remote_connection_src_is_read_where_the_module_runs(playbook):
    plugin_action = action(pinot_schema, {"src": "events-schema.json"}, playbook, transport="ssh")
    plugin_action.run(task_vars={})
    assert sent_args(plugin_action) == {"src": "events-schema.json"}


def test_a_file_not_found_fails_naming_the_option_and_where_it_was_searched(playbook):
    plugin_action = action(pinot_schema, {"src": "missing.json"}, playbook)
    with pytest.raises(AnsibleActionFail) as failed:
        plugin_action.run(task_vars={})
    message = str(failed.value)
    assert message.startswith("src: cannot find 'missing.json' on the controller: searched ")
    assert str(playbook / "roles" / "events" / "files" / "missing.json") in message
    assert str(playbook / "files" / "missing.json") in message
    plugin_action._execute_module.assert_not_called()


def test_the_search_is_ansibles_own(playbook):
    """With _find_needle mocked (ansible-core's own tests do so): asked for `files`, its answer is what is sent."""
    plugin_action = action(pinot_table, {"src": "t.json"}, playbook)
    with mock.patch.object(plugin_action, "_find_needle", return_value="/found/t.json") as find:
        plugin_action.run(task_vars={})
    find.assert_called_once_with("files", "t.json")
    assert sent_args(plugin_action) == {"src": "/found/t.json"}
    with mock.patch.object(plugin_action, "_find_needle", side_effect=AnsibleFileNotFound(file_name="t.json")), \
            pytest.raises(AnsibleActionFail, match=r"^src: cannot find 't.json' on the controller$"):
        plugin_action.run(task_vars={})


def test_pinot_table_uses_the_same_plugin():
    assert pinot_table.ActionModule is pinot_schema.ActionModule
    assert pinot_logical_table.ActionModule is pinot_schema.ActionModule
