"""Secrets never appear in output (issue 7): real playbooks at -vvv, with --diff, succeeding and failing tasks,
against the real auth-enabled Pinot and the real Kubernetes control plane; the WHOLE output is searched.

Secrets searched for: the Pinot password, a wrong password, the Basic token built from them, the Kubernetes
bearer token (given as api_key and inside the kubeconfig), the kubeconfig's contents, and stream credentials
(sasl.jaas.config / *.password values) of a table config.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.reliability import PASSWORD, USER, reliability_fixture
from tests.testbed import plays

pytestmark = pytest.mark.integration
pinot_auth = reliability_fixture()

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
WRONG = "wrong-" + secrets.token_hex(8)
JAAS_SECRET = "jaas-" + secrets.token_hex(8)
STREAM_PASSWORD = "kafka-" + secrets.token_hex(8)


def run_playbook(workdir, tasks, *extra, env=None, variables=None):
    """ansible-playbook -vvv --diff: (return code, full stdout+stderr).

    Secrets go in `variables` (an extra-vars file, as from a vault or AWX), never literally into the task: on a
    failed task ansible-core 2.19 prints the task's source lines."""
    path = workdir / f"play-{uuid.uuid4().hex[:6]}.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    if variables:
        var_file = workdir / f"vars-{uuid.uuid4().hex[:6]}.yml"
        var_file.write_text(yaml.safe_dump(variables))
        extra = ("-e", f"@{var_file}", *extra)
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"), ANSIBLE_NOCOLOR="1",
                       ANSIBLE_STDOUT_CALLBACK="default", **(env or {}))
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-vvv", "--diff", str(path), *extra], capture_output=True, text=True,
                          env=environment, timeout=600, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def assert_no_secret(output, secrets_):
    """Neither a secret nor its base64 form (how a module that read it from a Kubernetes Secret's data, or put it
    in a Basic header, would leak it)."""
    for secret in secrets_:
        assert secret not in output, f"a secret ({secret[:4]}...) appears in the output"
        encoded = base64.b64encode(secret.encode()).decode()
        assert encoded.rstrip("=") not in output, f"a secret ({secret[:4]}...) appears base64-encoded in the output"


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def schema(name):
    return {"schemaName": name, "dimensionFieldSpecs": [{"name": "country", "dataType": "STRING"}],
            "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH",
                                    "granularity": "1:MILLISECONDS"}]}


def realtime_table(name):
    return {"tableName": name, "tableType": "REALTIME",
            "segmentsConfig": {"timeColumnName": "ts", "replication": "1", "replicasPerPartition": "1"},
            "tenants": {}, "metadata": {},
            "tableIndexConfig": {"loadMode": "MMAP", "streamConfigs": {
                "streamType": "kafka", "stream.kafka.topic.name": name,
                "stream.kafka.broker.list": "127.0.0.1:1",
                "stream.kafka.consumer.type": "lowlevel",
                "stream.kafka.consumer.factory.class.name":
                    "org.apache.pinot.plugin.stream.kafka20.KafkaConsumerFactory",
                "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
                "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
                "sasl.jaas.config": "{{ jaas_config }}",
                "ssl.truststore.password": "{{ truststore_password }}"}}}


def test_pinot_credentials_and_stream_secrets_never_appear_at_vvv(pinot_auth, tmp_path):
    url = pinot_auth.controller_url
    name = "sec_" + uuid.uuid4().hex[:6]
    creds = {"controller_url": url, "username": USER, "password": "{{ pinot_password }}"}
    ignore = {"ignore_errors": True}
    tasks = [
        {"name": "create a schema (password)", "pinotops.k8s.pinot_schema": dict(creds, schema=schema(name))},
        {"name": "same with a token", "pinotops.k8s.pinot_schema": {
            "controller_url": url, "token": "{{ pinot_token }}", "schema": schema(name)}},
        {"name": "wrong password fails", "pinotops.k8s.pinot_schema": dict(creds, password="{{ wrong_password }}",
                                                                           schema=schema(name + "x")), **ignore},
        {"name": "wrong token fails", "pinotops.k8s.pinot_schema_info": {
            "controller_url": url, "token": "{{ wrong_token }}", "name": name}, **ignore},
        # PINOT_USERNAME / PINOT_PASSWORD come from the ansible-playbook process environment, the way AWX
        # credentials inject them (a task's `environment:` keyword is echoed by ansible-core at -vvv).
        {"name": "secret given via environment", "pinotops.k8s.pinot_schema_info": {
            "controller_url": url, "name": name}},
        {"name": "table with stream credentials, check mode diff", "check_mode": True,
         "pinotops.k8s.pinot_table": dict(creds, table=realtime_table(name)), "register": "checked"},
        # The diff really ran with the stream credentials' keys in it (-vvv echoes the task's arguments anyway).
        {"name": "the diff names the stream credentials", "ansible.builtin.assert": {"that": [
            "checked.diff is defined", "'sasl.jaas.config' in (checked.diff | to_json)"]}},
        {"name": "table with stream credentials, a failing create", "pinotops.k8s.pinot_table": dict(
            creds, table=realtime_table(name), timeout=60, retries=0), **ignore},
        {"name": "table info", "pinotops.k8s.pinot_table_info": dict(creds, name=name), **ignore},
        {"name": "unreachable controller fails", "pinotops.k8s.pinot_schema": dict(
            creds, controller_url="http://127.0.0.1:1", retries=0, schema=schema(name)), **ignore},
        {"name": "clean up", "pinotops.k8s.pinot_schema": dict(creds, name=name, state="absent"), **ignore},
    ]
    variables = {"pinot_password": PASSWORD, "wrong_password": WRONG, "pinot_token": basic(USER, PASSWORD),
                 "wrong_token": basic(USER, WRONG), "truststore_password": STREAM_PASSWORD,
                 "jaas_config": "org.apache.kafka.common.security.plain.PlainLoginModule required "
                                f'username="svc" password="{JAAS_SECRET}";'}
    rc, out = run_playbook(tmp_path, tasks, env={"PINOT_USERNAME": USER, "PINOT_PASSWORD": PASSWORD},
                           variables=variables)
    assert rc == 0, out[-3000:]
    # The failing tasks really failed (the wrong password, the wrong token, the unreachable controller at least),
    # with clear messages.
    assert plays.recap(out)["localhost"]["failed"] == 0 and plays.recap(out)["localhost"]["ignored"] >= 3, out[-2000:]
    assert "HTTP 403" in out or "HTTP 401" in out
    assert "cannot reach the controller" in out
    assert_no_secret(out, [PASSWORD, WRONG, basic(USER, PASSWORD).split()[1], basic(USER, WRONG).split()[1],
                           JAAS_SECRET, STREAM_PASSWORD])


def test_user_passwords_and_their_hashes_never_appear_at_vvv(pinot_auth, tmp_path):
    url = pinot_auth.controller_url
    auth = (USER, PASSWORD)
    name = "sec" + uuid.uuid4().hex[:6]
    user = {"controller_url": url, "username": USER, "password": "{{ pinot_password }}", "name": name,
            "component": "BROKER", "permissions": ["READ"]}
    variables = {"pinot_password": PASSWORD, "first": "first-" + secrets.token_hex(8),
                 "second": "second-" + secrets.token_hex(8)}

    def stored_hash():
        found = requests.get(f"{url}/users/{name}", params={"component": "BROKER"}, auth=auth, timeout=10)
        return found.json()[f"{name}_BROKER"]["password"]

    outputs = []
    for tasks in (
        [{"name": "create", "pinotops.k8s.pinot_user": dict(user, user_password="{{ first }}")}],
        [{"name": "same password", "pinotops.k8s.pinot_user": dict(user, user_password="{{ first }}")},
         {"name": "new password", "pinotops.k8s.pinot_user": dict(user, user_password="{{ second }}")},
         {"name": "drift report", "check_mode": True,
          "pinotops.k8s.pinot_user": dict(user, user_password="{{ first }}", role="ADMIN")}],
        [{"name": "info", "pinotops.k8s.pinot_user_info": {k: v for k, v in user.items() if k != "permissions"}},
         {"name": "every user", "pinotops.k8s.pinot_user_info": {
             "controller_url": url, "username": USER, "password": "{{ pinot_password }}"}},
         {"name": "remove", "pinotops.k8s.pinot_user": dict(user, state="absent")}],
    ):
        rc, out = run_playbook(tmp_path, tasks, variables=variables)
        assert rc == 0, out[-3000:]
        outputs.append(out)
        if len(outputs) < 3:
            variables.setdefault("hashes", []).append(stored_hash())
    assert "changed=1" in outputs[0] and "passwordChanged=true" in outputs[1]
    assert_no_secret("".join(outputs), [PASSWORD, variables["first"], variables["second"], *variables["hashes"]])


def test_kubernetes_tokens_and_kubeconfig_never_appear_at_vvv(k8s_control_plane, tmp_path):
    cp = k8s_control_plane
    namespace = "sec-" + secrets.token_hex(3)
    cp.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": namespace}})
    wrong_token = secrets.token_hex(24)
    bad_kubeconfig = tmp_path / "bad-kubeconfig"
    bad_kubeconfig.write_text(Path(cp.kubeconfig).read_text().replace(cp.token, wrong_token))
    cluster = {"name": "pinot", "namespace": namespace, "image": "apachepinot/pinot:1.4.0",
               "zookeeper": {"address": "zk:2181/pinot"},
               "pinot": {"controller": {"properties": {
                   "controller.admin.access.control.principals": "admin",
                   "controller.admin.access.control.principals.admin.password": "${env:PINOT_ADMIN_PASSWORD}"}}},
               "secret_env": [{"name": "PINOT_ADMIN_PASSWORD", "secret": "pinot-auth", "key": "password",
                               "roles": ["controller"]}],
               "node_groups": [{"name": "controller", "role": "controller", "replicas": 1,
                                "overrides": {"storage": {"size": "1Gi"}}}]}
    secret_value = "admin-" + secrets.token_hex(8)
    cp.request("POST", f"/api/v1/namespaces/{namespace}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pinot-auth"},
        "stringData": {"password": secret_value}})
    direct = {"host": cp.host, "api_key": "{{ k8s_token }}", "ca_cert": str(cp.ca_file)}
    ignore = {"ignore_errors": True}
    tasks = [
        {"name": "kubeconfig", "pinotops.k8s.pinot_cluster": {"kubeconfig": str(cp.kubeconfig),
                                                              "cluster": cluster}},
        {"name": "api_key", "pinotops.k8s.pinot_cluster": dict(direct, cluster=cluster)},
        {"name": "info", "pinotops.k8s.pinot_cluster_info": dict(direct, name="pinot", namespace=namespace)},
        {"name": "wrong token fails", "pinotops.k8s.pinot_cluster": dict(direct, api_key="{{ wrong_token }}",
                                                                         cluster=cluster), **ignore},
        {"name": "kubeconfig with a wrong token fails", "pinotops.k8s.pinot_cluster": {
            "kubeconfig": str(bad_kubeconfig), "cluster": cluster}, **ignore},
        {"name": "missing namespace fails", "pinotops.k8s.pinot_cluster": dict(
            direct, cluster=dict(cluster, namespace="does-not-exist")), **ignore},
        {"name": "delete", "pinotops.k8s.pinot_cluster": dict(direct, cluster={"name": "pinot",
                                                                               "namespace": namespace},
                                                              state="absent")},
    ]
    try:
        rc, out = run_playbook(tmp_path, tasks, variables={"k8s_token": cp.token, "wrong_token": wrong_token})
        # K8S_AUTH_* from the process environment, as AWX's Kubernetes credential injects them.
        rc_env, out_env = run_playbook(tmp_path, [
            {"name": "environment", "pinotops.k8s.pinot_cluster_info": {"name": "pinot", "namespace": namespace}},
            {"name": "environment, failing", "pinotops.k8s.pinot_cluster_info": {
                "name": "pinot", "namespace": namespace, "api_key": "{{ wrong_token }}"}, "ignore_errors": True}],
            env={"K8S_AUTH_HOST": cp.host, "K8S_AUTH_API_KEY": cp.token, "K8S_AUTH_SSL_CA_CERT": str(cp.ca_file)},
            variables={"wrong_token": wrong_token})
        assert rc_env == 0, out_env[-3000:]
        out += out_env
    finally:
        cp.request("DELETE", f"/api/v1/namespaces/{namespace}")
    assert rc == 0, out[-3000:]
    assert "HTTP 401" in out and "does not exist" in out
    assert "StatefulSet" in out  # the diff of the created objects was printed
    kubeconfig = yaml.safe_load(Path(cp.kubeconfig).read_text())
    user = kubeconfig["users"][0]["user"]
    assert_no_secret(out, [cp.token, wrong_token, secret_value,
                           *[str(value) for value in user.values() if isinstance(value, str) and len(value) > 16]])
    assert json.dumps(kubeconfig) not in out
