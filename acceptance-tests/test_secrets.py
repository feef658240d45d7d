"""Secrets stay out of state: `datomic_application.secret_parameters_wo` end to end,
through the real terraform CLI (1.11, write-only arguments) against the emulator.

The secrets are SSM Parameter Store SecureString parameters under
/datomic-shared/<system>/<group>/<application>/, tagged with the identity tags; the
state, the plan and the launch template's user data never hold their values; the nodes
are told the path and their role may read exactly it. A stranger's parameter at that
path is refused and left untouched.

Each step: plan -> apply -> SSM checked with boto3 (directly, not through the proxy) ->
re-plan shows no changes -> import gives the same state -> destroy leaves nothing.
"""

from __future__ import annotations

import base64
import json

import pytest

from harness import Emulator, Fault, Terraform, provider_hcl
from topology_helpers import AwsView, assert_nothing_left, assert_replan_empty, import_round_trip

SYSTEM = "secrets-app"
PATH = f"/datomic-shared/{SYSTEM}/primary/{SYSTEM}/"
ROLE = f"{SYSTEM}--primary-node"
POLICY = f"datomic-app-{SYSTEM}.secrets"
PASSWORD = "pw-7d1c2e0f-never-in-state"
API_KEY_1 = "key-1-9f8e7d6c-never-in-state"
API_KEY_2 = "key-2-0a1b2c3d-never-in-state"


def config(secrets: dict[str, str] | None, version: int | None) -> str:
    """A solo system with its application; DB_PASSWORD comes from an ephemeral variable."""
    block = ""
    if secrets is not None:
        entries = "\n".join(f"    {k} = {v}" for k, v in secrets.items())
        block = f"\n  secret_parameters_wo = {{\n{entries}\n  }}\n  secret_parameters_wo_version = {version}\n"
    return provider_hcl() + f"""
variable "db_password" {{
  type      = string
  ephemeral = true
  sensitive = true
}}

resource "datomic_system" "main" {{
  name           = "{SYSTEM}"
  topology       = "solo"
  retain_storage = false
}}

resource "datomic_application" "app" {{
  system   = datomic_system.main.name
  name     = datomic_system.main.application_name
  revision = "r1"
{block}}}
"""


def parameters(ssm) -> dict[str, dict]:
    """Every parameter under PATH: name -> {value, type, tags}."""
    out = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=PATH, WithDecryption=True):
        for p in page["Parameters"]:
            tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=p["Name"])["TagList"]
            out[p["Name"]] = {"value": p["Value"], "type": p["Type"],
                              "tags": {t["Key"]: t["Value"] for t in tags}}
    return out


def assert_nowhere_in_terraform(tf: Terraform, values: list[str]) -> None:
    """No value is in the state file, `terraform show -json` or the launch template."""
    state = (tf.workdir / "terraform.tfstate").read_text()
    shown = json.dumps(tf.show_json())
    for v in values:
        assert v not in state, "a secret value is in the state file"
        assert v not in shown, "a secret value is in terraform show -json"


def assert_not_in_user_data(view: AwsView, values: list[str]) -> dict:
    g = view.group(SYSTEM, "primary")
    lt = g.asg["LaunchTemplate"]["LaunchTemplateId"]
    for page in view.ec2.get_paginator("describe_launch_template_versions").paginate(LaunchTemplateId=lt):
        for version in page["LaunchTemplateVersions"]:
            data = json.dumps(version["LaunchTemplateData"])
            text = base64.b64decode(version["LaunchTemplateData"].get("UserData", "")).decode()
            for v in values:
                assert v not in data and v not in text, "a secret value is in the launch template"
    return g.node


@pytest.mark.aws
def test_secret_parameters_in_ssm_never_in_state(tf: Terraform, aws: Emulator) -> None:
    view = AwsView(aws)
    ssm = aws.boto3("ssm")
    aws.push_revision(SYSTEM, "r1")
    tf.env["TF_VAR_db_password"] = PASSWORD
    # The provider's own logs, at their most verbose, must not hold a value either.
    log = tf.workdir / "provider.log"
    tf.env.update({"TF_LOG_PROVIDER": "trace", "TF_LOG_PATH": str(log)})
    all_values = [PASSWORD, API_KEY_1, API_KEY_2]

    # Two secrets, version 1.
    tf.write(config({"DB_PASSWORD": "var.db_password", "API_KEY": f'"{API_KEY_1}"'}, 1))
    tf.init()
    plan = tf.plan_json()
    assert PASSWORD not in json.dumps(plan) and API_KEY_1 not in json.dumps(plan)
    tf.apply()
    found = parameters(ssm)
    assert sorted(found) == [PATH + "API_KEY", PATH + "DB_PASSWORD"], found
    assert found[PATH + "DB_PASSWORD"]["value"] == PASSWORD
    assert found[PATH + "API_KEY"]["value"] == API_KEY_1
    for p in found.values():
        assert p["type"] == "SecureString"
        assert {k: p["tags"].get(k) for k in ("datomic:managed-by", "datomic:system", "datomic:group",
                                              "datomic:application")} == {
            "datomic:managed-by": "terraform-provider-datomic", "datomic:system": SYSTEM,
            "datomic:group": "primary", "datomic:application": SYSTEM}, p["tags"]
    app = {r["address"]: r["values"] for r in tf.show_json()["values"]["root_module"]["resources"]}[
        "datomic_application.app"]
    assert app["secret_parameters_wo"] is None and app["secret_parameters_wo_version"] == 1
    assert_nowhere_in_terraform(tf, all_values)
    logged = log.read_text()
    assert "secret_parameters" in logged or "datomic_application" in logged, "the provider logged nothing"
    assert not any(v in logged for v in all_values), "a secret value is in the provider's logs"
    node = assert_not_in_user_data(view, all_values)
    assert node["secret_parameters_path"] == PATH and node["secret_parameters_version"] == 1, node
    policy = view.role_policy(ROLE, POLICY)
    assert policy is not None, view.role_policy_names(ROLE)
    read = policy["Statement"][0]
    assert [r.split(":parameter", 1)[1] for r in read["Resource"]] == [PATH.rstrip("/"), PATH + "*"], read
    assert all(r.startswith("arn:aws:ssm:us-east-1:") for r in read["Resource"]), read
    assert policy["Statement"][1]["Condition"] == {
        "StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}}
    assert_replan_empty(tf, aws)
    import_round_trip(tf)
    assert_replan_empty(tf, aws)

    # Version 2: API_KEY changed, DB_PASSWORD removed.
    tf.write(config({"API_KEY": f'"{API_KEY_2}"'}, 2))
    tf.apply()
    found = parameters(ssm)
    assert sorted(found) == [PATH + "API_KEY"], found
    assert found[PATH + "API_KEY"]["value"] == API_KEY_2
    assert_nowhere_in_terraform(tf, all_values)
    assert_not_in_user_data(view, all_values)
    assert_replan_empty(tf, aws)
    import_round_trip(tf)
    assert_replan_empty(tf, aws)

    # A stranger's parameter at our path is refused, and left as it is.
    ssm.put_parameter(Name=PATH + "OTHER", Value="theirs", Type="SecureString")
    tf.write(config({"API_KEY": '"changed"', "OTHER": '"mine"'}, 3))
    res = tf.apply(check=False)
    assert not res.ok, "apply overwrote a stranger's parameter"
    assert PATH + "OTHER" in res.describe(), res.describe()
    found = parameters(ssm)
    assert found[PATH + "OTHER"]["value"] == "theirs"
    assert found[PATH + "API_KEY"]["value"] == API_KEY_2, "a refused apply wrote a secret"
    tf.write(config({"API_KEY": f'"{API_KEY_2}"'}, 2))
    assert_replan_empty(tf, aws)

    # Destroy: ours are deleted, the stranger's stays; the read policy goes.
    tf.destroy()
    assert tf.state_list() == []
    assert sorted(parameters(ssm)) == [PATH + "OTHER"]
    assert_nothing_left(view, SYSTEM, retained_storage=False)
    ssm.delete_parameter(Name=PATH + "OTHER")

    # Secrets set, then taken out of the configuration: ours are deleted, the nodes are
    # no longer told the path, the read policy goes.
    tf.write(config({"API_KEY": f'"{API_KEY_1}"'}, 1))
    tf.apply()
    assert sorted(parameters(ssm)) == [PATH + "API_KEY"]
    tf.write(config(None, None))
    tf.apply()
    assert parameters(ssm) == {}
    node = view.group(SYSTEM, "primary").node
    assert "secret_parameters_path" not in node and "secret_parameters_version" not in node, node
    assert POLICY not in view.role_policy_names(ROLE)
    assert_replan_empty(tf, aws)
    import_round_trip(tf)
    assert_replan_empty(tf, aws)

    # An application without secrets never calls SSM (no SSM permission needed).
    aws.proxy.clear()
    tf.destroy()
    assert [c for c in aws.calls() if c.service == "ssm"] == []
    tf.apply()
    assert any(c.service == "ec2" for c in aws.calls()), "the proxy recorded nothing"
    assert [c for c in aws.calls() if c.service == "ssm"] == []
    tf.destroy()
    assert [c for c in aws.calls() if c.service == "ssm"] == []
    assert_nothing_left(view, SYSTEM, retained_storage=False)


@pytest.mark.aws
def test_a_put_whose_answer_was_lost_is_not_a_stranger(tf: Terraform, aws: Emulator) -> None:
    """SSM made the parameter but its answer was lost; the SDK's retry of the create
    then meets ParameterAlreadyExists. The parameter's tags say it is ours: the apply
    goes on, and the value is the one asked for."""
    view = AwsView(aws)
    ssm = aws.boto3("ssm")
    tf.env["TF_VAR_db_password"] = PASSWORD
    aws.push_revision(SYSTEM, "r1")
    tf.write(config({"DB_PASSWORD": "var.db_password"}, 1))
    tf.init()
    aws.proxy.inject(Fault("drop_response", service="ssm", action="PutParameter", times=1))
    tf.apply()
    puts = [(c.status, c.fault) for c in aws.calls("ssm") if c.action == "PutParameter"]
    assert puts[0][1] == "drop_response" and any(s == 400 for s, _ in puts[1:]), puts
    found = parameters(ssm)
    assert found[PATH + "DB_PASSWORD"]["value"] == PASSWORD
    assert found[PATH + "DB_PASSWORD"]["tags"].get("datomic:application") == SYSTEM
    assert_replan_empty(tf, aws)
    tf.destroy()
    assert parameters(ssm) == {}
    assert_nothing_left(view, SYSTEM, retained_storage=False)
