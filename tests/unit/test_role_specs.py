"""The roles' argument specs and defaults agree: every default is an option of the role, a literal default is the
spec's default and passes Ansible's own argument validation (what `validate_argument_spec` runs when the role
starts); and the pinot_cluster role's cluster configs reach pinot_cluster_config with the role's Pinot connection."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(path.name for path in (ROOT / "roles").iterdir() if (path / "meta" / "argument_specs.yml").exists())


def role_files(role: str) -> tuple[dict, dict]:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    return specs["main"]["options"], defaults


def literal(defaults: dict) -> dict:
    """The defaults that are values, not templates resolved at run time."""
    return {name: value for name, value in defaults.items() if not (isinstance(value, str) and "{{" in value)}


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_an_option_and_passes_the_argument_spec(role):
    options, defaults = role_files(role)
    assert set(defaults) <= set(options), f"defaults without an option: {sorted(set(defaults) - set(options))}"
    values = literal(defaults)
    differing = {name: (value, options[name].get("default")) for name, value in values.items()
                 if "default" in options[name] and options[name]["default"] != value}
    assert differing == {}, "defaults/main.yml and meta/argument_specs.yml disagree"
    required = {name: {} for name, option in options.items() if option.get("required")}
    result = ArgumentSpecValidator(options).validate(dict(required, **values))
    assert result.error_messages == []


def test_pinot_cluster_configs_default_to_nothing_and_reach_the_module_with_the_roles_connection():
    options, defaults = role_files("pinot_cluster")
    assert defaults["pinot_cluster_configs"] == {} == options["pinot_cluster_configs"]["default"]
    assert options["pinot_cluster_configs"]["type"] == "dict"
    tasks = ROOT / "roles" / "pinot_cluster" / "tasks"
    (block,) = yaml.safe_load((tasks / "main.yml").read_text())
    connection = block["module_defaults"]["pinotops.k8s.pinot_cluster_config"]
    assert connection == block["module_defaults"]["pinotops.k8s.pinot_table"]
    assert connection["controller_url"] == "{{ pinot_cluster_controller_url }}"
    (task,) = [task for task in yaml.safe_load((tasks / "role.yml").read_text())
               if "pinotops.k8s.pinot_cluster_config" in task]
    assert task["pinotops.k8s.pinot_cluster_config"] == {"configs": "{{ pinot_cluster_configs }}"}
    assert "pinot_cluster_role == 'controller'" in task["when"]
    assert "pinot_cluster_configs | length > 0" in task["when"]
