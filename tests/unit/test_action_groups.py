"""Action groups cannot cross wires: every connection option that `module_defaults` may set for a group is
accepted by every module of that group, and each module's documentation names the group it is in.

ansible-core applies group defaults to every member without filtering per module, so a group that mixed the
Kubernetes modules with the controller modules would fail every pinot_cluster task with `Unsupported parameters`
(controller_url), or send the controller's ca_cert to the apiserver.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from unittest import mock

import pytest
import yaml

from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8S_AUTH_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS

ROOT = Path(__file__).resolve().parents[2]
GROUPS = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]
MODULES = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("pinot_*.py"))
CONNECTION_OPTIONS = set(PINOT_CONNECTION_ARGS) | set(K8S_AUTH_ARGS)


class _Captured(Exception):
    pass


def argument_spec(name: str) -> dict:
    """The argument spec a module hands to AnsibleModule (captured, the module does not run)."""
    module = importlib.import_module(f"ansible_collections.pinotops.k8s.plugins.modules.{name}")

    def capture(*args, **kwargs):
        raise _Captured(kwargs.get("argument_spec") or args[0])

    with mock.patch.object(module, "AnsibleModule", side_effect=capture), pytest.raises(_Captured) as caught:
        module.main()
    return caught.value.args[0]


def test_every_module_is_in_exactly_one_group():
    members = [module for modules in GROUPS.values() for module in modules]
    assert sorted(members) == MODULES


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_member_accepts_every_connection_option_of_its_group(group):
    specs = {name: set(argument_spec(name)) for name in GROUPS[group]}
    shared = set.union(*(spec & CONNECTION_OPTIONS for spec in specs.values()))
    refused = {name: sorted(shared - spec) for name, spec in specs.items() if shared - spec}
    assert refused == {}, f"group/pinotops.k8s.{group} would send these options to modules that refuse them"


@pytest.mark.parametrize("name", MODULES)
def test_the_documented_membership_is_the_real_one(name):
    module = importlib.import_module(f"ansible_collections.pinotops.k8s.plugins.modules.{name}")
    fragments = yaml.safe_load(module.DOCUMENTATION)["extends_documentation_fragment"]
    (group,) = [g for g, members in GROUPS.items() if name in members]
    fragment = {"pinot": "pinotops.k8s.pinot.ACTION_GROUP", "k8s": "pinotops.k8s.k8s_auth.ACTION_GROUP"}[group]
    assert fragment in fragments
