"""The provider block itself: mistakes in it fail fast, on the argument at fault, with
the real cause (a wrong region or an unreachable endpoint, not "credentials"); retry
settings from the environment and the shared config file are honoured; plain http
endpoints are for loopback addresses only.

Each configuration marks the line the error must point at with `#!`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest

from harness import PROVIDER_SOURCE, REGION, Diagnostic, Emulator, Fault, Terraform, hosted_zones

MARK = "#!"
# Nothing listens there (see conftest.DEAD_ENDPOINT).
DEAD_ENDPOINT = "http://127.0.0.1:9"
SERVICES = ("ec2", "iam", "autoscaling", "s3", "dynamodb", "sts", "elbv2", "route53", "kms", "logs", "efs")
# What "fails fast" means here: Terraform's own start-up included, far below the
# minutes a retried dead endpoint used to take (the provider itself needs < 5 s).
FAST = 30.0

SOLO = '''
resource "datomic_system" "s" {
  name           = "cfg"
  topology       = "solo"
  retain_storage = false
}
'''


def provider_block(settings: str = "", region: str | None = f'"{REGION}"', endpoints: dict[str, str] | None = None,
                   validate_credentials: bool = False) -> str:
    """terraform + provider blocks like harness.provider_hcl, with `settings` lines added,
    `region` (an HCL expression, None: not set) and per-service endpoint overrides
    (default: var.aws_endpoint for every service)."""
    eps = {s: "var.aws_endpoint" for s in SERVICES}
    eps.update(endpoints or {})
    ep_lines = "\n".join(f"    {s} = {v}" for s, v in eps.items())
    region_line = f"  region = {region}\n" if region is not None else ""
    skip = "" if validate_credentials else "  skip_credentials_validation = true\n  skip_requesting_account_id = true\n"
    return f'''terraform {{
  required_providers {{
    datomic = {{ source = "{PROVIDER_SOURCE}" }}
  }}
}}

variable "aws_endpoint" {{
  type = string
}}

provider "datomic" {{
{region_line}  access_key = "testing"
  secret_key = "testing"
{skip}{settings}  endpoints {{
{ep_lines}
  }}
}}
'''


def marked_line(text: str) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if MARK in line]
    assert len(lines) == 1, "mark exactly one line with #!"
    return lines[0]


def timed_plan(tf: Terraform) -> tuple[float, list[Diagnostic], str]:
    start = time.monotonic()
    res = tf.run("plan", "-input=false", "-no-color", "-json", timeout=FAST)
    took = time.monotonic() - start
    assert not res.ok, f"the plan should have failed:\n{res.describe()}"
    return took, [d for d in res.diagnostics() if d.severity == "error"], res.describe()


def the_error(diags: list[Diagnostic], described: str) -> Diagnostic:
    assert len(diags) == 1, f"expected one error, got {len(diags)}:\n" + "\n".join(map(str, diags)) + described
    return diags[0]


# --------------------------------------------------------------------------------------
# 1. a wrong region or endpoint fails fast, on the right argument
# --------------------------------------------------------------------------------------


def test_typo_in_region_is_refused_on_region_with_a_suggestion(tf: Terraform, aws: Emulator) -> None:
    main = provider_block(region=f'"us-eats-1" {MARK}') + SOLO
    tf.write(main)
    took, diags, described = timed_plan(tf)
    err = the_error(diags, described)
    assert err.summary == "Invalid AWS region", err
    assert '"us-eats-1" is not an AWS region' in err.detail and '"us-east-1"' in err.detail, err
    assert "skip_region_validation" in err.detail, err
    assert err.line == marked_line(main), f"error on line {err.line}, expected the region line: {err}"
    assert "credentials" not in err.text.lower(), err
    assert aws.calls() == [], "a wrong region must be refused before any AWS call"
    print(f"wrong region refused in {took:.1f}s")


def test_region_from_the_environment_is_validated_too(make_tf: Callable[..., Terraform], aws: Emulator) -> None:
    tf = make_tf("envregion", endpoint=aws.url, extra_env={"AWS_REGION": "eu-wset-1", "AWS_DEFAULT_REGION": "eu-wset-1"})
    tf.write(provider_block(region=None) + SOLO)
    _, diags, described = timed_plan(tf)
    err = the_error(diags, described)
    assert err.summary == "Invalid AWS region", err
    assert '"eu-west-1"' in err.detail and "AWS_REGION" in err.detail, err
    assert aws.calls() == []


def test_skip_region_validation_lets_an_unlisted_region_through(tf: Terraform, aws: Emulator) -> None:
    """A region newer than the provider's table: with skip_region_validation the region
    is used as given (the emulator answers for any region)."""
    tf.write(provider_block('  skip_region_validation = true\n', region='"us-east-7"') + SOLO)
    res = tf.run("plan", "-input=false", "-no-color", "-json", timeout=120)
    assert res.ok, res.describe()
    assert not any(d.summary == "Invalid AWS region" for d in res.diagnostics())


def test_unreachable_sts_endpoint_fails_fast_on_that_endpoint(tf: Terraform, aws: Emulator) -> None:
    """The configure-time identity check against an endpoint where nothing listens:
    an error on `endpoints.sts` within seconds, saying the endpoint is unreachable,
    not blaming the credentials (it used to retry 25 times, for minutes)."""
    main = provider_block(endpoints={"sts": f'"{DEAD_ENDPOINT}" {MARK}'}, validate_credentials=True) + SOLO
    tf.write(main)
    took, diags, described = timed_plan(tf)
    err = the_error(diags, described)
    assert err.summary == "Cannot reach the STS endpoint", err
    assert DEAD_ENDPOINT in err.detail and "cannot connect" in err.detail, err
    assert err.line == marked_line(main), f"error on line {err.line}, expected the sts endpoint line: {err}"
    assert aws.writes() == []
    print(f"unreachable STS endpoint reported in {took:.1f}s")


def test_reachable_sts_with_bad_answer_still_blames_credentials(tf: Terraform, aws: Emulator) -> None:
    """The other side of the line: STS answers, and refuses the credentials."""
    tf.write(provider_block(validate_credentials=True) + SOLO)
    aws.proxy.inject(Fault("error", service="sts", code="InvalidClientTokenId", status=403,
                           message="The security token included in the request is invalid."))
    _, diags, described = timed_plan(tf)
    err = the_error(diags, described)
    assert err.summary == "Validating provider credentials" and "InvalidClientTokenId" in err.detail, err


def test_unreachable_service_endpoint_fails_an_apply_fast(tf: Terraform, aws: Emulator) -> None:
    """With EC2 unreachable (and nothing else wrong) an apply fails within seconds and
    the error says the endpoint cannot be reached: a call that never reached AWS is
    retried once, not 25 times."""
    tf.write(provider_block(endpoints={"ec2": f'"{DEAD_ENDPOINT}"'}) + SOLO)
    start = time.monotonic()
    res = tf.run("apply", "-auto-approve", "-input=false", "-no-color", timeout=120)
    took = time.monotonic() - start
    assert not res.ok, res.describe()
    assert "cannot connect to the AWS endpoint" in res.stderr, res.describe()
    destroy = tf.destroy(check=False)
    assert destroy.ok or "cannot connect" in destroy.stderr, destroy.describe()
    print(f"apply with EC2 unreachable failed in {took:.1f}s")
    assert took < 60, f"apply with an unreachable endpoint took {took:.0f}s"


# --------------------------------------------------------------------------------------
# 2. retry settings: provider argument > environment > shared config file > default
# --------------------------------------------------------------------------------------


def throttled_create_vpc_calls(tf: Terraform, aws: Emulator) -> tuple[int, float, str]:
    """Applies SOLO with every CreateVpc throttled; returns how many CreateVpc calls
    AWS saw, how long the apply took, and its output."""
    aws.proxy.clear_faults()
    aws.proxy.inject(Fault("throttle", service="ec2", action="CreateVpc"))
    aws.proxy.clear()
    start = time.monotonic()
    res = tf.run("apply", "-auto-approve", "-input=false", "-no-color", timeout=300)
    took = time.monotonic() - start
    assert not res.ok, f"the apply should have failed on the throttled CreateVpc:\n{res.describe()}"
    assert "RequestLimitExceeded" in res.stderr, res.describe()
    # The storage's data went on to its end beside the failing network: its bucket is
    # tagged as the system's (dropped half-way, it was left untagged, and the next
    # working directory refused it as a stranger's).
    s3 = aws.boto3("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("datomic-cfg-"))
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags.get("datomic:system") == "cfg", f"{bucket}: {tags}\n{res.describe()}"
    return len([c for c in aws.calls("ec2") if c.action == "CreateVpc"]), took, res.describe()


def test_aws_max_attempts_1_fails_a_throttled_call_at_once(make_tf: Callable[..., Terraform], aws: Emulator) -> None:
    tf = make_tf("env1", endpoint=aws.url, extra_env={"AWS_MAX_ATTEMPTS": "1"})
    tf.write(provider_block() + SOLO)
    calls, took, described = throttled_create_vpc_calls(tf, aws)
    assert calls == 1, f"AWS_MAX_ATTEMPTS=1: CreateVpc tried {calls} times\n{described}"
    print(f"AWS_MAX_ATTEMPTS=1: throttled apply failed after {calls} call in {took:.1f}s")


def test_retry_settings_precedence(make_tf: Callable[..., Terraform], aws: Emulator, tmp_path: Path) -> None:
    """The shared config file's max_attempts, then AWS_MAX_ATTEMPTS over it, then the
    provider's max_retries over both: each shows in the number of attempts of a call
    AWS keeps throttling."""
    shared = tmp_path / "aws-config"
    shared.write_text("[default]\nmax_attempts = 2\nretry_mode = standard\n")
    files = f'  shared_config_files = ["{shared}"]\n'

    tf = make_tf("shared", endpoint=aws.url)
    tf.write(provider_block(files) + SOLO)
    assert throttled_create_vpc_calls(tf, aws)[0] == 2, "max_attempts = 2 in the shared config file"

    tf = make_tf("env3", endpoint=aws.url, extra_env={"AWS_MAX_ATTEMPTS": "3"})
    tf.write(provider_block(files) + SOLO)
    assert throttled_create_vpc_calls(tf, aws)[0] == 3, "AWS_MAX_ATTEMPTS=3 over the shared config file"

    tf = make_tf("arg", endpoint=aws.url, extra_env={"AWS_MAX_ATTEMPTS": "3"})
    tf.write(provider_block(files + "  max_retries = 0\n  retry_mode = \"adaptive\"\n") + SOLO)
    assert throttled_create_vpc_calls(tf, aws)[0] == 1, "max_retries = 0 over AWS_MAX_ATTEMPTS"


def test_invalid_retry_settings_are_errors(make_tf: Callable[..., Terraform], aws: Emulator) -> None:
    tf = make_tf("badenv", endpoint=aws.url, extra_env={"AWS_RETRY_MODE": "legacy"})
    tf.write(provider_block() + SOLO)
    _, diags, described = timed_plan(tf)
    err = the_error(diags, described)
    assert err.summary == "Invalid AWS_RETRY_MODE" and '"legacy"' in err.detail, err

    tf = make_tf("badarg", endpoint=aws.url)
    main = provider_block(f'  retry_mode = "fast" {MARK}\n') + SOLO
    tf.write(main)
    _, diags, described = timed_plan(tf)
    err = the_error(diags, described)
    assert err.summary == "Invalid retry_mode" and err.line == marked_line(main), err


# --------------------------------------------------------------------------------------
# 3. plain http endpoints: loopback only
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://10.0.0.5:4566", "http://ec2.internal.example.com", "http://[::2]:4566",
                                 "http://127.0.0.1@attacker.example.com:4566"])
def test_plain_http_endpoint_off_loopback_is_refused(url: str, tf_offline: Terraform) -> None:
    main = provider_block(endpoints={"ec2": f'"{url}" {MARK}'}) + SOLO
    tf_offline.write(main)
    _, diags, described = timed_plan(tf_offline)
    err = the_error(diags, described)
    assert err.summary == "Invalid endpoint URL", err
    assert "not a loopback address" in err.detail and "https://" in err.detail, err
    assert err.line == marked_line(main), f"error on line {err.line}, expected the ec2 endpoint line: {err}"
    doc = tf_offline.validate_json()
    assert not doc["valid"] and any(d["summary"] == "Invalid endpoint URL" for d in doc["diagnostics"]), doc


def test_https_and_loopback_http_endpoints_are_accepted(tf: Terraform, aws: Emulator) -> None:
    """localhost and 127.0.0.0/8 over plain http (the emulator), https anywhere (validate
    only: nothing listens there)."""
    port = aws.url.rsplit(":", 1)[1]
    tf.write(provider_block(endpoints={"ec2": f'"http://localhost:{port}"'}) + SOLO)
    res = tf.run("plan", "-input=false", "-no-color", timeout=120)
    assert res.ok, res.describe()
    tf.write(provider_block(endpoints={"iam": '"https://iam.internal.example.com"'}) + SOLO)
    doc = tf.validate_json()
    assert doc["valid"], doc


# --------------------------------------------------------------------------------------
# 7. ignore_tags: tags of other tools are no drift and survive applies
# --------------------------------------------------------------------------------------


def test_ignore_tags_keeps_other_tools_tags(tf: Terraform, aws: Emulator) -> None:
    """Tags a backup or cost tool puts on the Auto Scaling group, the bucket and the
    table (matched by ignore_tags keys / key_prefixes) are not in tags_all, show no
    drift, and survive an apply that changes the system's tags; an ignored key in
    default_tags is not written."""
    from test_operations import View, apply_ok, assert_replan_empty, state_values, storage_tags

    settings = ('  ignore_tags {\n    keys         = ["CostCenter"]\n    key_prefixes = ["backup:"]\n  }\n'
                '  default_tags {\n    tags = { CostCenter = "from-defaults", team = "a" }\n  }\n')
    system = '''
resource "datomic_system" "main" {
  name           = "ignored"
  topology       = "solo"
  retain_storage = false
  tags           = { env = "%s" }
}
'''
    tf.write(provider_block(settings) + system % "dev")
    apply_ok(tf)
    s = state_values(tf)["datomic_system.main"]
    assert s["tags_all"] == {"env": "dev", "team": "a"}, s["tags_all"]
    view = View(aws)
    asg = s["autoscaling_group_name"]

    def asg_tags() -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in view.group(asg)["Tags"]}

    assert "CostCenter" not in asg_tags(), "an ignored default tag was written"

    # Another tool tags the group, the bucket and the table.
    view.asg.create_or_update_tags(Tags=[
        {"ResourceId": asg, "ResourceType": "auto-scaling-group", "Key": k, "Value": v, "PropagateAtLaunch": False}
        for k, v in {"backup:policy": "daily", "CostCenter": "42"}.items()])
    bucket = storage_tags(view, s)["bucket"]
    view.s3.put_bucket_tagging(Bucket=s["bucket_name"], Tagging={"TagSet": [
        {"Key": k, "Value": v} for k, v in {**bucket, "backup:policy": "daily"}.items()]})
    arn = view.ddb.describe_table(TableName=s["table_name"])["Table"]["TableArn"]
    view.ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "CostCenter", "Value": "42"}])
    [zone] = hosted_zones(view.route53, "ignored")
    zone_id = zone["Id"].split("/")[-1]

    def zone_tags() -> dict[str, str]:
        got = view.route53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)
        return {t["Key"]: t["Value"] for t in got["ResourceTagSet"]["Tags"]}

    view.route53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id,
                                          AddTags=[{"Key": "backup:policy", "Value": "daily"}])

    assert_replan_empty(tf, aws)  # no drift

    tf.write(provider_block(settings) + system % "prod")
    apply_ok(tf)
    assert {"backup:policy": "daily", "CostCenter": "42", "env": "prod"}.items() <= asg_tags().items(), asg_tags()
    after = storage_tags(view, s)
    assert after["bucket"].get("backup:policy") == "daily" and after["bucket"].get("env") == "prod", after["bucket"]
    assert after["table"].get("CostCenter") == "42" and after["table"].get("env") == "prod", after["table"]
    assert zone_tags().get("backup:policy") == "daily" and zone_tags().get("env") == "prod", zone_tags()
    assert state_values(tf)["datomic_system.main"]["tags_all"] == {"env": "prod", "team": "a"}
    assert_replan_empty(tf, aws)
    tf.destroy()


def test_ignore_tags_refuses_empty_entries(tf_offline: Terraform) -> None:
    main = provider_block(f'  ignore_tags {{\n    key_prefixes = [""] {MARK}\n  }}\n') + SOLO
    tf_offline.write(main)
    _, diags, described = timed_plan(tf_offline)
    err = the_error(diags, described)
    assert err.summary == "Invalid ignore_tags" and err.line == marked_line(main), err
