# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The suboptions of pinot_cluster's `cluster`, exactly as its DOCUMENTATION gives them (validate-modules and
tests/unit/plugins/module_utils/cluster/test_options.py compare the two).

Ansible checks the structure: the keys of every fixed-key mapping (unknown keys are refused, their path named)
and that mappings and lists of mappings are what they claim to be. Every other value is `raw`: Ansible's
coercing types would change what the module's own validator (spec.normalise_cluster) sees, a string
"2" into an integer, a list into its text, "a,b" into a list. Free-form mappings (profile names, Pinot
properties, profile fields with Kubernetes values, overrides) are plain dicts. No suboption has a default:
the defaults are spec.py's, and spec.without_unset drops what Ansible filled in as None.
"""

from __future__ import annotations

from ansible_collections.pinotops.k8s.plugins.module_utils.facts import ROLES


def _raw(**extra):
    return dict(type="raw", **extra)


def _role_config():
    return dict(properties=dict(type="dict"), jvm_opts=_raw())


CLUSTER_OPTIONS = dict(
    name=_raw(),
    namespace=_raw(),
    image=_raw(),
    image_pull_secrets=_raw(no_log=False),
    helix_cluster_name=_raw(),
    zookeeper=dict(type="dict", options=dict(
        address=_raw(),
        managed=dict(type="dict", options=dict(
            replicas=_raw(),
            image=_raw(),
            storage=dict(type="dict", options={"size": _raw(), "class": _raw()}),
            profile=_raw(),
        )),
    )),
    pinot=dict(type="dict", options={role: dict(type="dict", options=_role_config())
                                     for role in ROLES}),
    secret_env=dict(type="list", elements="dict", no_log=False, options=dict(
        name=_raw(),
        secret=_raw(no_log=False),
        key=_raw(no_log=False),
        roles=_raw(),
        optional=_raw(),
    )),
    deep_store=dict(type="dict", options=dict(
        uri=_raw(),
        region=_raw(),
        endpoint=_raw(),
        credentials_secret=dict(type="dict", no_log=False, options=dict(
            name=_raw(),
            access_key_key=_raw(no_log=False),
            secret_key_key=_raw(no_log=False),
        )),
    )),
    profiles=dict(type="dict"),
    node_groups=dict(type="list", elements="dict", options=dict(
        name=_raw(),
        role=_raw(),
        replicas=_raw(),
        zone=_raw(),
        zones=_raw(),
        image=_raw(),
        profile=_raw(),
        overrides=dict(type="dict"),
        pinot=dict(type="dict", options=_role_config()),
        tags=_raw(),
        pool=_raw(),
    )),
    deployment_order=_raw(),
    zone_pools=dict(type="dict"),
)
