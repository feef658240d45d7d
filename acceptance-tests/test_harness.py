"""Tests of the harness itself (emulator, recording proxy, Terraform driver): they need
neither the provider nor AWS resources, and tell a harness fault from a provider fault."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from harness import Emulator, Fault, Terraform, diagnostics_from_doc, provider_hcl


def test_proxy_records_service_and_action(aws: Emulator) -> None:
    ec2 = aws.boto3("ec2", via_proxy=True)
    ec2.describe_vpcs()
    ec2.create_vpc(CidrBlock="10.9.0.0/16")
    aws.boto3("dynamodb", via_proxy=True).list_tables()
    s3 = aws.boto3("s3", via_proxy=True)
    s3.create_bucket(Bucket="harness-bucket")
    s3.head_bucket(Bucket="harness-bucket")
    aws.boto3("ec2").describe_vpcs()  # direct: not recorded

    seen = [(c.service, c.action, c.is_write) for c in aws.calls()]
    assert seen == [
        ("ec2", "DescribeVpcs", False),
        ("ec2", "CreateVpc", True),
        ("dynamodb", "ListTables", False),
        ("s3", "PUT /harness-bucket", True),
        ("s3", "HEAD /harness-bucket", False),
    ]
    assert [c.action for c in aws.writes()] == ["CreateVpc", "PUT /harness-bucket"]
    aws.reset()
    assert aws.calls() == []
    assert len(aws.boto3("ec2").describe_vpcs()["Vpcs"]) == 1  # only the default VPC


@pytest.mark.parametrize("service,call,code", [
    ("ec2", lambda c: c.describe_vpcs(), "RequestLimitExceeded"),
    ("iam", lambda c: c.list_roles(), "Throttling"),
    ("autoscaling", lambda c: c.describe_auto_scaling_groups(), "Throttling"),
    ("dynamodb", lambda c: c.list_tables(), "ThrottlingException"),
    ("s3", lambda c: c.list_buckets(), "SlowDown"),
])
def test_proxy_injects_throttling_in_each_protocol(aws: Emulator, service, call, code) -> None:
    aws.proxy.inject(Fault("throttle", service=service, times=1))
    client = _no_retry_client(aws, service)
    with pytest.raises(ClientError) as e:
        call(client)
    assert e.value.response["Error"]["Code"] == code
    call(client)  # times=1: the next call goes through
    assert [c.fault for c in aws.calls()] == ["throttle", None]


def test_proxy_drops_connections_and_responses(aws: Emulator) -> None:
    aws.proxy.inject(Fault("drop", action="DescribeVpcs", times=1))
    aws.proxy.inject(Fault("drop_response", action=re.compile("^CreateVpc$"), times=1))
    client = _no_retry_client(aws, "ec2")
    with pytest.raises(ConnectionClosedError):
        client.describe_vpcs()
    with pytest.raises(ConnectionClosedError):
        client.create_vpc(CidrBlock="10.8.0.0/16")
    # the dropped response's call took effect in the emulator
    assert len(aws.boto3("ec2").describe_vpcs()["Vpcs"]) == 2
    assert [(c.action, c.status, c.fault) for c in aws.calls()] == [
        ("DescribeVpcs", 0, "drop"), ("CreateVpc", 0, "drop_response")]


def test_delayed_call_never_lands_after_its_faults_are_cleared(aws: Emulator) -> None:
    """A call held by a "delay" fault whose client gave up (a provider killed or timed
    out) must not reach the emulator once the test clears its faults: it would land in
    the middle of a later test."""
    import time

    from botocore.exceptions import ReadTimeoutError

    aws.proxy.inject(Fault("delay", action="CreateVpc", delay=1.5))
    client = _no_retry_client(aws, "ec2", read_timeout=0.5)
    with pytest.raises(ReadTimeoutError):
        client.create_vpc(CidrBlock="10.7.0.0/16")
    aws.proxy.clear_faults()
    time.sleep(2)  # past the delay: the held call is dropped, not forwarded
    assert len(aws.boto3("ec2").describe_vpcs()["Vpcs"]) == 1  # only the default VPC
    assert aws.calls() == []


def _no_retry_client(aws: Emulator, service: str, read_timeout: float = 60):
    import boto3

    return boto3.client(service, endpoint_url=aws.url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"},
                                      read_timeout=read_timeout))


def test_terraform_driver_with_builtin_resources(tmp_path: Path) -> None:
    # The dev override points at an empty directory: only built-in resources are used.
    plugin_dir = tmp_path / "no-plugin"
    plugin_dir.mkdir()
    tf = Terraform(tmp_path / "work", plugin_dir / "terraform-provider-datomic", "http://127.0.0.1:9")
    tf.write(
        'resource "terraform_data" "a" {\n  input = var.greeting\n}\n',
        variables_tf='variable "greeting" {\n  type = string\n  default = "hello"\n}\n',
        outputs_tf='output "echo" {\n  value = terraform_data.a.output\n}\n',
    )
    assert (tf.workdir / "variables.tf").is_file()
    assert tf.init().ok
    assert tf.validate_json()["valid"] is True
    plan = tf.plan_json()
    assert [rc["change"]["actions"] for rc in plan["resource_changes"]] == [["create"]]
    tf.apply()
    assert tf.outputs() == {"echo": "hello"}
    assert tf.output_json()["echo"]["type"] == "string"
    assert tf.state_list() == ["terraform_data.a"]
    assert "hello" in tf.state_show("terraform_data.a")
    assert tf.show_json()["values"]["root_module"]["resources"][0]["address"] == "terraform_data.a"
    rc, out, _ = tf.plan("-detailed-exitcode")
    assert rc == 0, out
    tf.destroy()
    assert tf.state_list() == []


def test_terraform_driver_parses_diagnostics(tmp_path: Path) -> None:
    plugin_dir = tmp_path / "no-plugin"
    plugin_dir.mkdir()
    tf = Terraform(tmp_path / "work", plugin_dir / "terraform-provider-datomic", None)
    tf.write('resource "terraform_data" "a" {\n  input = 1\n  nonsense = 2\n}\n')
    diags = diagnostics_from_doc(tf.validate_json())
    assert len(diags) == 1 and diags[0].severity == "error", diags
    assert diags[0].filename == "main.tf" and diags[0].line == 3
    assert "nonsense" in diags[0].text
    res = tf.plan("-json")
    assert res.rc == 1
    ui = res.diagnostics()
    assert [(d.severity, d.line) for d in ui] == [("error", 3)]


def test_provider_hcl_is_valid_hcl_shape() -> None:
    hcl = provider_hcl()
    assert 'source = "datomic-community/datomic"' in hcl
    assert 'variable "aws_endpoint"' in hcl
    for svc in ("ec2", "iam", "autoscaling", "s3", "dynamodb", "sts"):
        assert re.search(rf"^\s+{svc} = var\.aws_endpoint$", hcl, re.M)
    assert hcl.count("{") == hcl.count("}")


def test_emulator_validates_instance_types(aws: Emulator) -> None:
    ec2 = aws.boto3("ec2")
    with pytest.raises(ClientError) as e:
        ec2.run_instances(ImageId="ami-12c6146b", InstanceType="t9.bogus", MinCount=1, MaxCount=1)
    assert e.value.response["Error"]["Code"] == "InvalidInstanceType.NotFound"
