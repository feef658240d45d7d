"""Reliability: the classic ways infrastructure tools fail their users, each tried
against the real terraform CLI, the built provider and the local AWS emulator.

- AWS failing 30 % of the calls (throttling, 5xx, dropped connections, dropped
  responses after the call took effect): apply, empty plan and destroy still work,
  and nothing is duplicated or left behind.
- The provider killed (SIGKILL) in the middle of a create, after its k-th AWS write:
  the next apply converges to what a clean run makes; no duplicate, no orphan.
- Drift made outside Terraform (capacity, launch template, tags, deleted Auto Scaling
  groups): plan shows it, apply repairs it, nothing blocks the user.
- IAM's eventual consistency (NoSuchEntity right after a create) is waited out.
- Credentials never reach a log; the provider's log lines are Terraform's JSON.
- `timeouts` bound an operation and name what it waited for.

AWS state is checked directly with boto3 (around the recording proxy): see
`inventory()`. Figures (faults injected, cases tried, objects orphaned) are printed
as `RELIABILITY ...` lines; docs/guides/reliability.md quotes them.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import signal
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness import (Call, Emulator, Fault, Terraform, code_bucket, processes_of, provider_hcl,
                     stop_process_group)

pytestmark = pytest.mark.aws

SYSTEM = "rel"


# --------------------------------------------------------------------------------------
# configurations
# --------------------------------------------------------------------------------------


def provider_block(max_retries: int | None = 25, access_key: str = "testing", secret_key: str = "testing") -> str:
    """provider_hcl() with max_retries and the given static credentials."""
    hcl = provider_hcl()
    hcl = hcl.replace('access_key                  = "testing"', f'access_key                  = "{access_key}"')
    hcl = hcl.replace('secret_key                  = "testing"', f'secret_key                  = "{secret_key}"')
    if max_retries is not None:
        hcl = hcl.replace("  skip_requesting_account_id  = true\n",
                          f"  skip_requesting_account_id  = true\n  max_retries                 = {max_retries}\n")
    assert access_key in hcl and secret_key in hcl
    return hcl


@pytest.fixture(autouse=True)
def _pushed(aws: Emulator) -> None:
    """The "web" revision full_config deploys, pushed to the code bucket as ion push would
    (the emulator is emptied before each test)."""
    aws.push_revision("web", "r1")


def full_config(system: str = SYSTEM, *, revision: str = "r1", system_extra: str = "",
                retain_storage: bool = False, **provider: Any) -> str:
    """A production system + a query group running the "web" application + that
    application's revision (with its own IAM policy): every kind of AWS object."""
    policy = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["sqs:SendMessage"],
                       "Resource": "arn:aws:sqs:us-east-1:123456789012:web-stage-events"}],
    })
    return provider_block(**provider) + f"""
resource "datomic_system" "prod" {{
  name           = "{system}"
  topology       = "production"
  retain_storage = {str(retain_storage).lower()}
  tags = {{
    team = "reliability"
  }}
{system_extra}}}

resource "datomic_query_group" "stage" {{
  system           = datomic_system.prod.name
  name             = "stage"
  application_name = "web"
  parameters = {{
    DATOMIC_DB_NAME = "web-stage"
  }}
}}

resource "datomic_application" "web" {{
  system        = datomic_system.prod.name
  compute_group = datomic_query_group.stage.name
  name          = datomic_query_group.stage.application_name
  revision      = "{revision}"
  iam_policy    = {json.dumps(policy)}
}}
"""


# --------------------------------------------------------------------------------------
# AWS state, read directly (not through the proxy)
# --------------------------------------------------------------------------------------

LIVE_INSTANCE_STATES = ("pending", "running", "stopping", "stopped")


def _tags(items: list[dict] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in items or [] if not t["Key"].startswith("aws:")}


def inventory(aws: Emulator) -> dict[str, Any]:
    """Everything in the emulator that a datomic system could have made, with AWS ids
    replaced by names, so that two runs can be compared. Keys: vpcs, subnets,
    security_groups, launch_templates, autoscaling_groups, instances, roles,
    instance_profiles, buckets, tables, file_systems, load_balancers, target_groups; plus
    `orphan_instances` (live instances in no Auto Scaling group)."""
    ec2, asg, iam = aws.boto3("ec2"), aws.boto3("autoscaling"), aws.boto3("iam")
    s3, ddb = aws.boto3("s3"), aws.boto3("dynamodb")

    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    vpc_name = {v["VpcId"]: f"vpc[{_tags(v.get('Tags')).get('datomic:system', '?')}]" for v in vpcs}
    subnets = [s for s in ec2.describe_subnets()["Subnets"] if s["VpcId"] in vpc_name]
    sgs = [g for g in ec2.describe_security_groups()["SecurityGroups"]
           if g["VpcId"] in vpc_name and g["GroupName"] != "default"]
    sg_name = {g["GroupId"]: g["GroupName"] for g in sgs}

    def ingress(g: dict) -> list[str]:
        rules = []
        for p in g.get("IpPermissions", []):
            who = [("self" if x["GroupId"] == g["GroupId"] else sg_name.get(x["GroupId"], "other-sg"))
                   for x in p.get("UserIdGroupPairs", [])]
            who += [r["CidrIp"] for r in p.get("IpRanges", [])]
            rules.append(f"{p.get('IpProtocol')}:{p.get('FromPort')}-{p.get('ToPort')}<-{','.join(sorted(who))}")
        return sorted(rules)

    lts = ec2.describe_launch_templates()["LaunchTemplates"]
    lt_name = {t["LaunchTemplateId"]: t["LaunchTemplateName"] for t in lts}
    launch_templates = []
    for t in lts:
        latest = ec2.describe_launch_template_versions(
            LaunchTemplateId=t["LaunchTemplateId"], Versions=["$Latest"])["LaunchTemplateVersions"][0]
        data = latest["LaunchTemplateData"]
        user_data = data.get("UserData", "")
        try:
            user_data = base64.b64decode(user_data).decode()
        except ValueError:
            pass
        launch_templates.append({
            "name": t["LaunchTemplateName"],
            "tags": _tags(t.get("Tags")),
            "versions": t.get("LatestVersionNumber"),
            "instance_type": data.get("InstanceType"),
            "image": data.get("ImageId"),
            "profile": (data.get("IamInstanceProfile") or {}).get("Name"),
            "security_groups": sorted(sg_name.get(x, x) for x in data.get("SecurityGroupIds", [])),
            "metadata": data.get("MetadataOptions", {}).get("HttpTokens"),
            "encrypted": [m.get("Ebs", {}).get("Encrypted") for m in data.get("BlockDeviceMappings", [])],
            "user_data": user_data,
            "instance_tags": {k: v for s in data.get("TagSpecifications", []) for k, v in _tags(s.get("Tags")).items()},
        })

    reservations = ec2.describe_instances()["Reservations"]
    live = {i["InstanceId"]: i for r in reservations for i in r["Instances"]
            if i["State"]["Name"] in LIVE_INSTANCE_STATES}
    groups = asg.describe_auto_scaling_groups()["AutoScalingGroups"]
    in_groups: set[str] = set()
    autoscaling_groups = []
    for g in groups:
        ids = [i["InstanceId"] for i in g.get("Instances", [])]
        in_groups.update(ids)
        lt = g.get("LaunchTemplate") or {}
        autoscaling_groups.append({
            "name": g["AutoScalingGroupName"],
            "capacity": (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]),
            "launch_template": lt_name.get(lt.get("LaunchTemplateId", ""), lt.get("LaunchTemplateName")),
            "version": lt.get("Version"),
            "subnets": sorted(
                next((f"{vpc_name.get(s['VpcId'])}/{s['AvailabilityZone']}" for s in subnets if s["SubnetId"] == x), x)
                for x in (g.get("VPCZoneIdentifier") or "").split(",") if x),
            "tags": _tags(g.get("Tags")),
            "instances": len(ids),
            # what each node was launched with (fingerprint of its launch configuration)
            "node_configs": sorted(_tags(live[i].get("Tags")).get("datomic:node-config", "?") if i in live else "gone"
                                   for i in ids),
        })
    instances = sorted(
        f"{_tags(i.get('Tags')).get('Name', '?')}:{i['InstanceType']}" for i in live.values())
    orphan_instances = sorted(
        f"{i['InstanceId']} ({_tags(i.get('Tags')).get('Name', '?')})" for i in live.values() if i["InstanceId"] not in in_groups)

    roles = []
    for r in iam.list_roles()["Roles"]:
        if r.get("Path", "").startswith("/aws-service-role/"):
            continue  # AWS's own, made once per account (Auto Scaling's, named in the key policy)
        name = r["RoleName"]
        policies = {}
        for p in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
            doc = doc if isinstance(doc, dict) else json.loads(urllib.parse.unquote(doc))
            # The file system's ARN holds its id, another in each run: a placeholder instead.
            policies[p] = json.loads(re.sub(r"file-system/fs-[0-9a-f]+", "file-system/<datomic-system>",
                                            json.dumps(doc)))
        tags = _tags(iam.list_role_tags(RoleName=name).get("Tags"))
        trust = r["AssumeRolePolicyDocument"]
        trust = trust if isinstance(trust, dict) else json.loads(urllib.parse.unquote(trust))
        attached = sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"])
        roles.append({"name": name, "tags": tags, "policies": policies, "trust": trust, "attached": attached})
    profiles = [{"name": p["InstanceProfileName"], "roles": sorted(r["RoleName"] for r in p.get("Roles", []))}
                for p in iam.list_instance_profiles()["InstanceProfiles"]]

    buckets = []
    for b in s3.list_buckets().get("Buckets", []):
        name = b["Name"]
        if name == code_bucket():
            continue  # the region's ion code bucket: shared, pushed to by the tests, never deleted

        def get(fn: Any, key: str) -> Any:
            try:
                return fn(Bucket=name)[key]
            except Exception as e:  # noqa: BLE001 - "not set" is an answer here
                return f"missing ({type(e).__name__})"

        buckets.append({
            "name": name,
            "encryption": get(s3.get_bucket_encryption, "ServerSideEncryptionConfiguration"),
            "public_access_block": get(s3.get_public_access_block, "PublicAccessBlockConfiguration"),
            "tags": (lambda t: t if isinstance(t, str) else _tags(t))(get(s3.get_bucket_tagging, "TagSet")),
        })
    tables = []
    for name in ddb.list_tables()["TableNames"]:
        arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
        tables.append({"name": name, "tags": _tags(ddb.list_tags_of_resource(ResourceArn=arn).get("Tags"))})

    file_systems = []
    efs = aws.boto3("efs")
    for f in efs.describe_file_systems()["FileSystems"]:
        mounts = efs.describe_mount_targets(FileSystemId=f["FileSystemId"])["MountTargets"]
        file_systems.append({"name": f["CreationToken"], "encrypted": f.get("Encrypted", False),
                             "mount_targets": sorted(m.get("AvailabilityZoneName", "") for m in mounts),
                             "tags": _tags(f.get("Tags"))})

    load_balancers: list[str] = []
    target_groups: list[str] = []
    try:
        elb = aws.boto3("elbv2")
        load_balancers = sorted(x["LoadBalancerName"] for x in elb.describe_load_balancers()["LoadBalancers"])
        target_groups = sorted(x["TargetGroupName"] for x in elb.describe_target_groups()["TargetGroups"])
    except Exception:  # noqa: BLE001 - a provider without load balancers
        pass

    return {
        "vpcs": sorted(({"name": vpc_name[v["VpcId"]], "cidr": v["CidrBlock"], "tags": _tags(v.get("Tags"))}
                        for v in vpcs), key=lambda x: json.dumps(x, sort_keys=True)),
        "subnets": sorted(({"vpc": vpc_name[s["VpcId"]], "zone": s["AvailabilityZone"], "cidr": s["CidrBlock"],
                            "tags": _tags(s.get("Tags"))} for s in subnets), key=lambda x: json.dumps(x, sort_keys=True)),
        "security_groups": sorted(({"name": g["GroupName"], "vpc": vpc_name[g["VpcId"]], "ingress": ingress(g),
                                    "tags": _tags(g.get("Tags"))} for g in sgs), key=lambda x: x["name"]),
        "launch_templates": sorted(launch_templates, key=lambda x: x["name"]),
        "autoscaling_groups": sorted(autoscaling_groups, key=lambda x: x["name"]),
        "instances": instances,
        "orphan_instances": orphan_instances,
        "roles": sorted(roles, key=lambda x: x["name"]),
        "instance_profiles": sorted(profiles, key=lambda x: x["name"]),
        "buckets": sorted(buckets, key=lambda x: x["name"]),
        "tables": sorted(tables, key=lambda x: x["name"]),
        "file_systems": sorted(file_systems, key=lambda x: x["name"]),
        "load_balancers": load_balancers,
        "target_groups": target_groups,
    }


def comparable(inv: dict[str, Any]) -> dict[str, Any]:
    """The inventory without what legitimately differs between two equivalent runs:
    how many launch template versions were written on the way (a create retried after
    a lost response writes one more, with the same data), and the token of the mark
    that says a group's create finished, and the id of the system's KMS key (each run
    makes its own key: the bucket and the node configurations name it)."""
    out = json.loads(re.sub(r"arn:aws:kms:[a-z0-9-]+:\d+:key/[0-9a-f-]+", "<system key>", json.dumps(inv)))
    for t in out["launch_templates"]:
        t.pop("versions", None)
    for g in out["autoscaling_groups"]:
        g.pop("version", None)
        # the finished mark holds a token unique to each create
        if "datomic:created" in g["tags"]:
            g["tags"]["datomic:created"] = "<token>"
    # A node configuration's fingerprint hashes the system key's ARN too: compare the
    # fingerprints as names for the configurations (which nodes and templates share
    # one), in the order they first appear; the configurations themselves are compared
    # in the launch templates' user data, key masked.
    names: dict[str, str] = {}

    def named(fp: str) -> str:
        return names.setdefault(fp, f"<config {len(names) + 1}>") if fp not in ("?", "gone") else fp

    for t in sorted(out["launch_templates"], key=lambda t: t["name"]):
        for where in ("tags", "instance_tags"):
            if "datomic:node-config" in t.get(where, {}):
                t[where]["datomic:node-config"] = named(t[where]["datomic:node-config"])
    for g in sorted(out["autoscaling_groups"], key=lambda g: g["name"]):
        g["node_configs"] = [named(c) for c in g["node_configs"]]
    return out


def duplicates_and_orphans(inv: dict[str, Any], systems: tuple[str, ...] = (SYSTEM,)) -> list[str]:
    """What must never be: two objects where one is wanted, objects of no system, and
    nodes outside their Auto Scaling group."""
    problems = []
    count = Counter(v["tags"].get("datomic:system", "<untagged>") for v in inv["vpcs"])
    problems += [f"{n} VPCs of system {s}" for s, n in count.items() if n > 1 or s not in systems]
    count = Counter((s["vpc"], s["zone"]) for s in inv["subnets"])
    problems += [f"{n} subnets in {k}" for k, n in count.items() if n > 1]
    per_vpc = Counter(s["vpc"] for s in inv["subnets"])
    # One per zone, three zones (us-east-1 has more: see rules::zone_count).
    problems += [f"{vpc} has {n} subnets (3 expected)" for vpc, n in per_vpc.items() if n != 3]
    count = Counter((g["vpc"], g["name"]) for g in inv["security_groups"])
    problems += [f"{n} security groups {k}" for k, n in count.items() if n > 1]
    for kind in ("launch_templates", "autoscaling_groups", "roles", "instance_profiles", "buckets", "tables"):
        count = Counter(x["name"] for x in inv[kind])
        problems += [f"{n} {kind} named {k}" for k, n in count.items() if n > 1]
    problems += [f"orphan instance {i}" for i in inv["orphan_instances"]]
    for g in inv["autoscaling_groups"]:
        if g["instances"] != g["capacity"][2]:
            problems.append(f"{g['name']} has {g['instances']} nodes for a desired capacity of {g['capacity'][2]}")
        if "gone" in g["node_configs"]:
            problems.append(f"{g['name']} lists nodes that are not running")
    lt_names = {t["name"] for t in inv["launch_templates"]}
    asg_names = {g["name"] for g in inv["autoscaling_groups"]}
    problems += [f"launch template {n} without its Auto Scaling group" for n in lt_names - asg_names]
    profiles = {p["name"]: p["roles"] for p in inv["instance_profiles"]}
    for r in inv["roles"]:
        if r["name"].endswith("-deploy") and "codedeploy.amazonaws.com" in json.dumps(r["trust"]):
            continue  # CodeDeploy's role of a group's deployment group: no instance profile
        if profiles.get(r["name"]) != [r["name"]]:
            problems.append(f"role {r['name']} is not alone in its instance profile: {profiles.get(r['name'])}")
    problems += [f"instance profile {p} without its role" for p in set(profiles) - {r["name"] for r in inv["roles"]}]
    return problems


def leftovers(inv: dict[str, Any]) -> list[str]:
    """Everything still in the emulator (after a destroy with retain_storage = false)."""
    left = []
    for kind in ("vpcs", "subnets", "security_groups", "launch_templates", "autoscaling_groups", "roles",
                 "instance_profiles", "buckets", "tables", "file_systems"):
        left += [f"{kind}: {x.get('name')}" for x in inv[kind]]
    left += [f"instance {i}" for i in inv["instances"]]
    left += [f"load balancer {x}" for x in inv["load_balancers"]]
    left += [f"target group {x}" for x in inv["target_groups"]]
    return left


def nodes_up_to_date(inv: dict[str, Any]) -> list[str]:
    """Groups whose nodes were not launched from their launch template's latest
    version (their fingerprint tag differs from the one the template gives)."""
    lts = {t["name"]: t for t in inv["launch_templates"]}
    stale = []
    for g in inv["autoscaling_groups"]:
        want = lts.get(g["launch_template"], {}).get("instance_tags", {}).get("datomic:node-config")
        old = [c for c in g["node_configs"] if c != want]
        if old:
            stale.append(f"{g['name']}: {len(old)} of {len(g['node_configs'])} nodes run an old configuration")
    return stale


def report(name: str, **figures: Any) -> None:
    """One `RELIABILITY` line of figures (shown with -s, and kept in the -rA report)."""
    print(f"\nRELIABILITY {name}: " + json.dumps(figures, sort_keys=True, default=str))


def assert_empty_plan(tf: Terraform, what: str) -> None:
    rc, out, err = tf.plan("-detailed-exitcode")
    assert rc == 0, f"plan after {what} is not empty (exit code {rc}):\n{out}\n{err}"


def plan_changes(tf: Terraform) -> tuple[dict[str, list[str]], dict[str, dict]]:
    """The saved plan's actions that do something ({address: actions}) and every
    resource's change ({address: change})."""
    plan = tf.plan_json()
    actions = {rc["address"]: rc["change"]["actions"] for rc in plan.get("resource_changes", [])
               if rc["change"]["actions"] != ["no-op"]}
    changes = {rc["address"]: rc["change"] for rc in plan.get("resource_changes", [])}
    return actions, changes


# --------------------------------------------------------------------------------------
# the harness extensions these tests use
# --------------------------------------------------------------------------------------


def test_proxy_plays_aws_errors_and_reports_forwarded_calls(aws: Emulator) -> None:
    """Fault("error") answers with the given AWS error code in each protocol (as the
    SDKs parse it); `on_forwarded` sees each call that reached the emulator, with
    its answer, before the answer goes back (also when it is then dropped); and
    Fault("respond") replays such an answer."""
    from botocore.config import Config
    from botocore.exceptions import ClientError, ConnectionClosedError
    import boto3

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=aws.url, region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing",
                            config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}))

    seen: list[tuple[str, str | None]] = []
    answers: list[tuple[int, list[tuple[str, str]], bytes]] = []
    aws.proxy.on_forwarded = lambda call, answer: (seen.append((call.action, call.fault)), answers.append(answer))
    cases = [
        ("iam", lambda c: c.list_roles(), "NoSuchEntity", 404),
        ("ec2", lambda c: c.describe_vpcs(), "InvalidVpcID.NotFound", 400),
        ("autoscaling", lambda c: c.describe_auto_scaling_groups(), "ValidationError", 400),
        ("dynamodb", lambda c: c.list_tables(), "ResourceNotFoundException", 400),
        ("s3", lambda c: c.list_buckets(), "NoSuchBucket", 404),
    ]
    for service, call, code, status in cases:
        aws.proxy.inject(Fault("error", service=service, code=code, status=status, message="gone", times=1))
        with pytest.raises(ClientError) as e:
            call(client(service))
        assert e.value.response["Error"]["Code"] == code, service
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status, service
    assert seen == [], "error answers never reach the emulator"
    aws.proxy.inject(Fault("drop_response", action="CreateVpc", times=1))
    with pytest.raises(ConnectionClosedError):
        client("ec2").create_vpc(CidrBlock="10.7.0.0/16")
    client("ec2").describe_vpcs()
    assert seen == [("CreateVpc", "drop_response"), ("DescribeVpcs", None)]
    # the dropped answer, replayed: the client gets the VPC the lost call made
    aws.proxy.inject(Fault("respond", action="CreateVpc", response=answers[0], times=1))
    vpc = client("ec2").create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]
    assert vpc["CidrBlock"] == "10.7.0.0/16"
    assert len([v for v in aws.boto3("ec2").describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.7.0.0/16"]) == 1
    with pytest.raises(ValueError):
        Fault("error")
    with pytest.raises(ValueError):
        Fault("respond")


# --------------------------------------------------------------------------------------
# the reference: a clean run
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(emulator: Emulator, provider_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the other tests compare with: the inventory after a clean apply of
    full_config() (which must itself have exactly one of each object, all nodes on
    the latest configuration, an empty re-plan, and nothing left after destroy)."""
    emulator.reset()
    emulator.push_revision("web", "r1")
    tf = Terraform(tmp_path_factory.mktemp("reference"), provider_binary, emulator.url)
    tf.write(full_config())
    t0 = time.monotonic()
    tf.apply()
    took = time.monotonic() - t0
    inv = inventory(emulator)
    assert duplicates_and_orphans(inv) == []
    assert nodes_up_to_date(inv) == []
    calls, writes = emulator.calls(), emulator.writes()
    emulator.proxy.clear()
    assert_empty_plan(tf, "a clean apply")
    emulator.proxy.clear()
    tf.destroy()
    assert leftovers(inventory(emulator)) == []
    destroy_writes = emulator.writes()
    report("clean run", apply_seconds=round(took, 1), apply_aws_calls=len(calls), apply_aws_writes=len(writes),
           destroy_aws_calls=len(emulator.calls()), destroy_aws_writes=len(destroy_writes))
    emulator.reset()
    # the writes that reached the emulator (the kill hook counts those): not the ones
    # the strict AWS layer refused, whose number depends on timing
    return {"inventory": inv, "writes": [c.action for c in writes if not (c.fault or "").startswith("strict:")],
            "destroy_writes": [c.action for c in destroy_writes]}


def assert_same_as_reference(inv: dict[str, Any], reference: dict[str, Any]) -> None:
    want, got = comparable(reference["inventory"]), comparable(inv)
    diff = {k: {"clean run": want[k], "this run": got[k]} for k in want if want[k] != got.get(k)}
    assert not diff, "AWS differs from a clean run:\n" + json.dumps(diff, indent=1, sort_keys=True)


# --------------------------------------------------------------------------------------
# 1. AWS failing 30 % of the calls
# --------------------------------------------------------------------------------------

# Where moto answers a repeated write unlike AWS, the proxy gives AWS's answer to the
# repeat (once, after a response it dropped). Errors: moto overwrites an Auto Scaling
# group created twice (orphaning the first one's instances) where AWS says
# AlreadyExists, and fails with HTTP 500 where AWS says the instance or the role is not
# there any more.
AWS_ERRORS_TO_REPEATS = {
    "CreateAutoScalingGroup": ("AlreadyExists", 400, "AutoScalingGroup by this name already exists"),
    "TerminateInstanceInAutoScalingGroup": (
        "ValidationError", 400, "Instance Id not found - No managed instance found for instance ID"),
    "RemoveRoleFromInstanceProfile": ("NoSuchEntity", 404, "The role cannot be found in the instance profile"),
}
# Idempotent on AWS (the same request again answers as the first one did), not in moto
# (a second load balancer of the same name; DuplicateTargetGroupName;
# DuplicateListener): the proxy replays the first answer.
IDEMPOTENT_ON_AWS = ("CreateLoadBalancer", "CreateTargetGroup", "CreateListener")


def answer_repeats_as_aws(aws: Emulator) -> None:
    def hook(call: Call, answer: tuple[int, list[tuple[str, str]], bytes]) -> None:
        if call.fault != "drop_response":
            return
        if call.action in AWS_ERRORS_TO_REPEATS:
            code, status, message = AWS_ERRORS_TO_REPEATS[call.action]
            aws.proxy.inject(Fault("error", action=call.action, code=code, status=status, message=message, times=1))
        elif call.action in IDEMPOTENT_ON_AWS and 200 <= answer[0] < 300:
            aws.proxy.inject(Fault("respond", action=call.action, response=answer, times=1))
    aws.proxy.on_forwarded = hook


@pytest.mark.timeout(600)
def test_every_write_retried_after_its_response_is_lost(tf: Terraform, aws: Emulator,
                                                        reference: dict[str, Any]) -> None:
    """The nastiest fault for a create: the call takes effect, its response is lost,
    and the SDK sends it again. Here the first call of EVERY kind of write the apply
    and the destroy make (CreateVpc, CreateSubnet, CreateRole, CreateAutoScalingGroup,
    TerminateInstanceInAutoScalingGroup, DeleteAutoScalingGroup, ...) loses its
    response once: still exactly one of each object, and nothing left after destroy."""
    tf.write(full_config(max_retries=25))
    answer_repeats_as_aws(aws)
    for action in sorted(set(reference["writes"])):
        aws.proxy.inject(Fault("drop_response", action=action, times=1))
    res = tf.apply(check=False)
    dropped = sorted(c.action for c in aws.calls() if c.fault == "drop_response")
    report("lost responses (apply)", writes_whose_response_was_lost=dropped)
    assert res.ok, f"apply failed when write responses were lost:\n{res.describe()}"
    inv = inventory(aws)
    assert duplicates_and_orphans(inv) == []
    assert nodes_up_to_date(inv) == []
    assert_same_as_reference(inv, reference)
    assert_empty_plan(tf, "an apply with lost responses")

    aws.proxy.clear()
    aws.proxy.clear_faults()
    for action in sorted(set(reference["destroy_writes"])):
        aws.proxy.inject(Fault("drop_response", action=action, times=1))
    res = tf.destroy(check=False)
    dropped_destroy = sorted(c.action for c in aws.calls() if c.fault == "drop_response")
    report("lost responses (destroy)", writes_whose_response_was_lost=dropped_destroy)
    assert res.ok, f"destroy failed when write responses were lost:\n{res.describe()}"
    assert leftovers(inventory(aws)) == []


FAULT_RATE = 0.30
FAULT_KINDS = ("throttle", "error500", "error503", "drop", "drop_response")


def inject_fault_mix(aws: Emulator, rate: float = FAULT_RATE, kinds: tuple[str, ...] = FAULT_KINDS) -> None:
    """Every AWS call fails with probability `rate`, the kinds in equal shares. The
    proxy tries its faults in order, so each later one gets the rate that makes its
    overall share rate/len(kinds)."""
    share = rate / len(kinds)
    for i, kind in enumerate(kinds):
        aws.proxy.inject(Fault(kind, rate=share / (1 - i * share)))


def fault_counts(calls: list[Call]) -> dict[str, int]:
    return dict(Counter(c.fault for c in calls if c.fault))


# Each seed draws another sequence of faults (the draws are repeatable: same seed, same
# faults on the same calls). REL_FAULT_SEEDS=1,2,3,4,5 tries more.
FAULT_SEEDS = [int(x) for x in os.environ.get("REL_FAULT_SEEDS", "1,2").split(",")]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("seed", FAULT_SEEDS, ids=[f"seed-{s}" for s in FAULT_SEEDS])
def test_survives_30_percent_faulty_aws(seed: int, tf: Terraform, aws: Emulator, reference: dict[str, Any]) -> None:
    """30 % of all AWS calls fail (throttling, 500, 503, connection dropped before the
    call, response dropped after the call took effect): apply, an empty plan and
    destroy all succeed, AWS ends up exactly as after a clean run, and nothing is
    left behind."""
    tf.write(full_config(max_retries=25))
    aws.proxy.seed(seed)
    inject_fault_mix(aws)
    answer_repeats_as_aws(aws)
    figures: dict[str, Any] = {"seed": seed}

    t0 = time.monotonic()
    res = tf.apply(check=False)
    figures["apply_seconds"] = round(time.monotonic() - t0, 1)
    calls = aws.calls()
    figures["apply"] = {"calls": len(calls), "faults": fault_counts(calls),
                        "responses_dropped_after_writes": sorted(c.action for c in calls
                                                                 if c.fault == "drop_response" and c.is_write)}
    report("faults", **figures)
    assert res.ok, f"apply failed with {FAULT_RATE:.0%} of AWS calls failing:\n{res.describe()}"
    inv = inventory(aws)
    assert duplicates_and_orphans(inv) == []
    assert nodes_up_to_date(inv) == []
    assert_same_as_reference(inv, reference)

    aws.proxy.clear()
    rc, out, err = tf.plan("-detailed-exitcode")
    calls = aws.calls()
    figures["plan"] = {"calls": len(calls), "faults": fault_counts(calls)}
    assert rc == 0, f"plan after apply is not empty with faults injected (exit code {rc}):\n{out}\n{err}"
    assert [c.action for c in calls if c.is_write] == [], "a plan wrote to AWS"

    aws.proxy.clear()
    res = tf.destroy(check=False)
    calls = aws.calls()
    figures["destroy"] = {"calls": len(calls), "faults": fault_counts(calls)}
    report("faults", **figures)
    assert res.ok, f"destroy failed with {FAULT_RATE:.0%} of AWS calls failing:\n{res.describe()}"
    assert leftovers(inventory(aws)) == []


# --------------------------------------------------------------------------------------
# 2. the provider killed in the middle of a create
# --------------------------------------------------------------------------------------

# After which AWS writes (1-based, in the order a clean apply makes them) the provider
# is killed. Default: after the first write of each kind (CreateVpc, CreateSubnet, the
# bucket's PUTs, CreateSecurityGroup, CreateRole, ..., CreateLaunchTemplateVersion,
# TerminateInstanceInAutoScalingGroup): every step of the system's, the query group's
# and the application's create. REL_KILL_POINTS=all: after every write;
# REL_KILL_POINTS=3,9: after those.
KILL_POINTS_ENV = os.environ.get("REL_KILL_POINTS", "")


# The last write of a group's create marks its Auto Scaling group finished
# (CreateOrUpdateTags of datomic:created). A kill right after it leaves a finished group
# that never reached the state: the next apply from the same working directory adopts it
# (the tag holds a token remembered under .terraform/), any other state is refused. Every
# such mark is a kill point (the system's and the query group's), not just the first.
MARK_FINISHED = "CreateOrUpdateTags"


def kill_points(writes: list[str]) -> list[int]:
    if KILL_POINTS_ENV == "all":
        return list(range(1, len(writes) + 1))
    if KILL_POINTS_ENV:
        return [int(x) for x in KILL_POINTS_ENV.split(",")]
    first: dict[str, int] = {}
    marks = []
    for i, action in enumerate(writes, 1):
        first.setdefault(action, i)
        if action == MARK_FINISHED:
            marks.append(i)
    return sorted(set(first.values()) | set(marks))


def apply_killed_after_write(tf: Terraform, aws: Emulator, binary: Path, k: int) -> tuple[str | None, str]:
    """Runs `terraform apply` and SIGKILLs its provider process right after the k-th
    AWS write took effect in the emulator, before the provider sees the answer.
    Returns (the action of that write, or None if the apply made fewer; terraform's
    output)."""
    killed: list[str] = []
    writes = 0
    lock = threading.Lock()
    proc_box: dict[str, Any] = {}

    def hook(call: Call, _answer: Any) -> None:
        nonlocal writes
        if not call.is_write:
            return
        with lock:
            writes += 1
            if writes != k:
                return
            for pid in processes_of(binary, proc_box["proc"].pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            killed.append(call.action)

    aws.proxy.on_forwarded = hook
    proc = tf.popen("apply", "-auto-approve", "-input=false", "-no-color")
    proc_box["proc"] = proc
    try:
        out, err = proc.communicate(timeout=180)
    except Exception:
        stop_process_group(proc, grace=5, first=signal.SIGINT)
        raise
    finally:
        aws.proxy.on_forwarded = None
        for pid in processes_of(binary, proc.pid):
            os.kill(pid, signal.SIGKILL)
    return (killed[0] if killed else None), f"exit code {proc.returncode}\n{out}\n{err}"


# How Terraform reports a provider that died during ApplyResourceChange (which one
# depends on when the connection breaks).
PLUGIN_DIED = re.compile(r"Plugin did not respond|plugin (crashed|exited)|Request cancelled")


def first_lines(text: str, n: int = 40) -> str:
    return "\n".join(text.splitlines()[:n])


@pytest.mark.timeout(1500)
def test_converges_after_provider_killed(make_tf, aws: Emulator, provider_binary: Path,
                                         reference: dict[str, Any]) -> None:
    """SIGKILL of the provider right after its k-th AWS write of a create (the write
    took effect, the provider never saw the answer), for k after each kind of write:
    Terraform reports the plugin's death; the next apply succeeds and makes AWS exactly
    what a clean run makes (every object found again by its name and tags: no
    duplicate, no orphan); the plan after it is empty; destroy leaves nothing."""
    writes = reference["writes"]
    points = kill_points(writes)
    problems: dict[str, str] = {}
    # This test is about what a SIGKILL leaves behind, over ~30 applies and destroys:
    # the strict layer's time and dependency rules (kept by the other tests) only add
    # waits here, and one without the other is not AWS (dependencies of instances whose
    # group was reported gone at once). Consistency and validation stay on.
    strict = aws.proxy.strict
    before = strict.config if strict is not None else None
    if before is not None:
        aws.proxy.set_strict(dataclasses.replace(before, time=False, dependencies=False))
    try:
        converge_after_each_kill(make_tf, aws, provider_binary, reference, points, problems)
    finally:
        if before is not None:
            aws.proxy.set_strict(before)


def converge_after_each_kill(make_tf, aws: Emulator, provider_binary: Path, reference: dict[str, Any],
                             points: list[int], problems: dict[str, str]) -> None:
    writes = reference["writes"]
    orphaned = 0
    for k in points:
        aws.reset()
        aws.push_revision("web", "r1")
        tf = make_tf(f"kill-{k}", endpoint=aws.url, timeout=180)
        tf.write(full_config())
        action, first = apply_killed_after_write(tf, aws, provider_binary, k)
        case = f"killed after write {k} ({action or '-'})"
        if action is None:
            problems[case] = f"the apply made fewer than {k} writes:\n{first_lines(first)}"
            continue
        if first.startswith("exit code 0") or not PLUGIN_DIED.search(first):
            problems[case] = f"terraform did not report the killed plugin:\n{first[-1500:]}"
            continue
        res = tf.apply(check=False)
        inv = inventory(aws)
        extra = duplicates_and_orphans(inv)  # each one an object too many or left alone
        orphaned += len(extra)
        dup = extra + nodes_up_to_date(inv)
        if not res.ok:
            problems[case] = f"the next apply failed:\n{res.stderr[-1500:]}" + "".join(f"\n{p}" for p in dup)
            continue
        want, got = comparable(reference["inventory"]), comparable(inv)
        diff = {key: {"clean run": want[key], "this run": got[key]} for key in want if want[key] != got.get(key)}
        if dup or diff:
            problems[case] = "\n".join(dup) + ("\nAWS differs from a clean run:\n" + json.dumps(diff, indent=1, sort_keys=True)
                                               if diff else "")
            # go on: the plan and destroy must work all the same
        rc, out, err = tf.plan("-detailed-exitcode")
        if rc != 0:
            problems[case] = problems.get(case, "") + f"\nthe plan after it is not empty (exit code {rc}):\n{out[-1500:]}{err[-500:]}"
        res = tf.destroy(check=False)
        left = leftovers(inventory(aws)) if res.ok else ["(destroy failed)"]
        orphaned += len(left)
        if not res.ok or left:
            problems[case] = problems.get(case, "") + f"\ndestroy left {left}:\n{res.stderr[-1000:]}"
    report("kill", cases=len(points), converged=len(points) - len(problems), objects_duplicated_or_orphaned=orphaned,
           kill_points={k: writes[k - 1] for k in points if k <= len(writes)},
           failed=sorted(problems))
    assert not problems, f"{len(problems)} of {len(points)} interrupted creates did not converge:\n\n" + "\n\n".join(
        f"== {case}\n{text}" for case, text in problems.items())


@pytest.mark.timeout(600)
def test_finished_but_unrecorded_group_is_adopted_only_by_its_own_working_directory(
        make_tf, aws: Emulator, provider_binary: Path, reference: dict[str, Any]) -> None:
    """The provider killed right after the query group's create marked it finished
    (its last write), before Terraform recorded it: a complete group no state tracks.
    Another working directory planning the same group (another state) is refused
    at plan, naming the group and the import command, with zero writes; the working
    directory whose apply was interrupted adopts it and converges to a clean run's AWS."""
    writes = reference["writes"]
    marks = [i for i, action in enumerate(writes, 1) if action == MARK_FINISHED]
    assert len(marks) >= 2, f"expected the system's and the query group's finished marks: {writes}"
    tf = make_tf("interrupted", endpoint=aws.url, timeout=180)
    tf.write(full_config())
    action, first = apply_killed_after_write(tf, aws, provider_binary, marks[-1])
    assert action == MARK_FINISHED and PLUGIN_DIED.search(first), first_lines(first)
    assert "datomic_query_group.stage" not in tf.state_list()

    # Another team's state attaching the same query group to the system by name.
    other = make_tf("other-state", endpoint=aws.url, timeout=180)
    other.write(provider_block() + f"""
resource "datomic_query_group" "stage" {{
  system           = "{SYSTEM}"
  name             = "stage"
  application_name = "web"
}}
""")
    aws.proxy.clear()
    rc, out, err = other.plan("-detailed-exitcode")
    text = out + err
    report("unrecorded group, other working directory", exit_code=rc, writes=len(aws.writes()))
    assert rc == 1 and 'Datomic query group "stage" already exists' in text and "terraform import" in text, text[-2000:]
    assert aws.writes() == []

    res = tf.apply(check=False)
    assert res.ok, res.describe()
    inv = inventory(aws)
    assert duplicates_and_orphans(inv) == [] and nodes_up_to_date(inv) == []
    assert_same_as_reference(inv, reference)
    assert_empty_plan(tf, "the adopting apply")
    tf.destroy()
    assert leftovers(inventory(aws)) == []


@pytest.mark.timeout(300)
def test_failed_create_then_destroy_leaves_nothing(tf: Terraform, aws: Emulator) -> None:
    """A create that fails half-way keeps what it made: here AWS refuses the system's
    Auto Scaling group (account quota reached) after its network, bucket, table,
    security group, role and launch template were made. The user gives up and runs
    `terraform destroy`: everything the failed create made is deleted
    (retain_storage = false), nothing is left behind."""
    tf.write(full_config())
    aws.proxy.inject(Fault("error", action="CreateAutoScalingGroup", code="LimitExceeded", status=400,
                           message="You have reached your limit of 200 Auto Scaling groups for this account."))
    res = tf.apply(check=False)
    assert not res.ok and "LimitExceeded" in res.stderr, res.describe()
    made = leftovers(inventory(aws))
    state = tf.state_list()
    report("failed create", objects_made_before_the_failure=len(made), state=state)
    assert made, "the failed create made nothing: inconclusive"
    res = tf.destroy(check=False)
    assert res.ok, res.describe()
    left = leftovers(inventory(aws))
    assert left == [], (f"terraform destroy after a failed create left {len(left)} of the {len(made)} objects "
                        f"it made (state before destroy: {state}):\n" + "\n".join(left))


# --------------------------------------------------------------------------------------
# 3. drift: objects changed or deleted outside Terraform
# --------------------------------------------------------------------------------------


@pytest.fixture
def applied(make_tf, aws: Emulator) -> Terraform:
    """full_config() applied (clean), in a working directory whose commands are
    bounded to 3 minutes."""
    tf = make_tf("drift", endpoint=aws.url, timeout=180)
    tf.write(full_config())
    tf.apply()
    assert_empty_plan(tf, "a clean apply")
    return tf


def converge_and_destroy(tf: Terraform, aws: Emulator, what: str, reference: dict[str, Any]) -> dict[str, Any]:
    """apply repairs the drift; then AWS is as after a clean run, the plan is empty,
    and destroy leaves nothing. Returns the inventory after the repair."""
    res = tf.apply(check=False)
    assert res.ok, f"apply after {what} failed:\n{res.describe()}"
    inv = inventory(aws)
    assert duplicates_and_orphans(inv) == [], what
    assert nodes_up_to_date(inv) == [], what
    assert_same_as_reference(inv, reference)
    assert_empty_plan(tf, f"repairing {what}")
    tf.destroy()
    assert leftovers(inventory(aws)) == [], what
    return inv


def only_errors(res_text: str) -> list[str]:
    return re.findall(r"^Error: .*$", res_text, re.M)


@pytest.mark.timeout(300)
def test_drift_primary_desired_capacity(applied: Terraform, aws: Emulator, reference: dict[str, Any]) -> None:
    """Someone scales the primary group to 3 nodes by hand: the plan shows an in-place
    update of node_count back to 2, and apply makes it so."""
    aws.boto3("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=f"{SYSTEM}--primary", MaxSize=3, DesiredCapacity=3)
    actions, changes = plan_changes(applied)
    assert actions == {"datomic_system.prod": ["update"]}, actions
    ch = changes["datomic_system.prod"]
    assert (ch["before"]["node_count"], ch["after"]["node_count"]) == (3, 2)
    converge_and_destroy(applied, aws, "a hand-scaled primary group", reference)


@pytest.mark.timeout(300)
def test_drift_launch_template_instance_type(applied: Terraform, aws: Emulator, reference: dict[str, Any]) -> None:
    """Someone writes a new launch template version with another instance type (from
    the latest one, as the console's "source template" does): the plan shows an
    in-place update of instance_type, and apply writes it back."""
    ec2 = aws.boto3("ec2")
    lt = ec2.describe_launch_templates(LaunchTemplateNames=[f"{SYSTEM}--primary"])["LaunchTemplates"][0]
    # AWS copies the source version (SourceVersion); moto ignores it, so copy by hand.
    data = ec2.describe_launch_template_versions(
        LaunchTemplateId=lt["LaunchTemplateId"], Versions=["$Latest"])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    data["InstanceType"] = "i3.xlarge"
    ec2.create_launch_template_version(LaunchTemplateId=lt["LaunchTemplateId"], LaunchTemplateData=data)
    actions, changes = plan_changes(applied)
    assert actions == {"datomic_system.prod": ["update"]}, actions
    ch = changes["datomic_system.prod"]
    assert (ch["before"]["instance_type"], ch["after"]["instance_type"]) == ("i3.xlarge", "i3.large")
    converge_and_destroy(applied, aws, "a launch template version made by hand", reference)


@pytest.mark.timeout(300)
def test_drift_launch_template_version_from_scratch(applied: Terraform, aws: Emulator,
                                                    reference: dict[str, Any]) -> None:
    """Someone writes a new launch template version holding only another instance type
    (no source version: no image, no user data, no profile, no IMDSv2): the plan shows
    an in-place update, and apply writes back a complete template (the system's node
    configuration, not an empty one) and rolls the nodes onto it."""
    ec2 = aws.boto3("ec2")
    lt = ec2.describe_launch_templates(LaunchTemplateNames=[f"{SYSTEM}--primary"])["LaunchTemplates"][0]
    ec2.create_launch_template_version(LaunchTemplateId=lt["LaunchTemplateId"],
                                       LaunchTemplateData={"InstanceType": "i3.xlarge"})
    actions, changes = plan_changes(applied)
    assert actions == {"datomic_system.prod": ["update"]}, actions
    ch = changes["datomic_system.prod"]
    assert (ch["before"]["instance_type"], ch["after"]["instance_type"]) == ("i3.xlarge", "i3.large")
    converge_and_destroy(applied, aws, "a launch template version made from scratch by hand", reference)


@pytest.mark.timeout(300)
def test_drift_autoscaling_group_tags(applied: Terraform, aws: Emulator, reference: dict[str, Any]) -> None:
    """Someone changes the value of a tag of the primary Auto Scaling group and adds
    one: the plan shows an in-place update of the tags, and apply puts them back."""
    name = f"{SYSTEM}--primary"
    aws.boto3("autoscaling").create_or_update_tags(Tags=[
        {"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": k, "Value": v, "PropagateAtLaunch": True}
        for k, v in (("team", "someone-else"), ("owner", "by-hand"))])
    actions, changes = plan_changes(applied)
    assert actions == {"datomic_system.prod": ["update"]}, actions
    ch = changes["datomic_system.prod"]
    assert ch["before"]["tags"] == {"team": "someone-else", "owner": "by-hand"}, ch["before"]["tags"]
    assert ch["after"]["tags"] == {"team": "reliability"}
    converge_and_destroy(applied, aws, "tags changed by hand", reference)


@pytest.mark.timeout(300)
def test_drift_identity_tag_removed(applied: Terraform, aws: Emulator, reference: dict[str, Any]) -> None:
    """Someone deletes the `datomic:group` tag of the query group's Auto Scaling group
    (e.g. a tag clean-up script). Its name alone never makes it ours again: plan and
    apply neither fail with a crash nor hang, apply refuses to adopt it with an error
    naming the group and the tags it has, and nothing on AWS is written to it. Once
    the tag is back, the next apply converges."""
    name = f"{SYSTEM}--stage"
    asg = aws.boto3("autoscaling")
    asg.delete_tags(Tags=[{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": "datomic:group"}])
    res = applied.plan("-detailed-exitcode")
    assert res.rc in (0, 2), f"plan failed after an identity tag was removed:\n{res.describe()}"
    before = len(aws.writes("autoscaling"))
    # A clean apply of the whole configuration takes a few seconds: 60 s means a hang.
    res = applied.run("apply", "-auto-approve", "-input=false", "-no-color", timeout=60)
    assert not res.ok, "apply adopted an Auto Scaling group that lost its identity tags"
    text = " ".join((res.stdout + res.stderr).split())  # Terraform wraps long details
    assert f'"{name}"' in text and "does not belong to" in text and "never adopts" in text, text
    touched = [c.action for c in aws.writes("autoscaling")[before:]]
    assert touched == [], f"the provider wrote to Auto Scaling groups: {touched}"
    asg.create_or_update_tags(Tags=[{"ResourceId": name, "ResourceType": "auto-scaling-group",
                                     "Key": "datomic:group", "Value": "stage", "PropagateAtLaunch": True}])
    converge_and_destroy(applied, aws, "an identity tag removed by hand, then put back", reference)


@pytest.mark.timeout(300)
def test_drift_node_role_policies(applied: Terraform, aws: Emulator, reference: dict[str, Any]) -> None:
    """Someone widens the primary group's node role by hand: its own policy rewritten
    to `Allow *`, an inline policy and a managed policy added, its trust policy
    opened to Lambda. The plan shows the role as changed (an in-place update), and
    apply puts it back exactly as a clean run makes it."""
    iam = aws.boto3("iam")
    role = f"{SYSTEM}--primary-node"
    allow_all = json.dumps({"Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    iam.put_role_policy(RoleName=role, PolicyName="datomic-node", PolicyDocument=allow_all)
    iam.put_role_policy(RoleName=role, PolicyName="by-hand", PolicyDocument=allow_all)
    managed = iam.create_policy(PolicyName="by-hand-managed", PolicyDocument=allow_all)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role, PolicyArn=managed)
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]}, "Action": "sts:AssumeRole"}]}))
    actions, changes = plan_changes(applied)
    assert actions.get("datomic_system.prod") == ["update"], actions
    ch = changes["datomic_system.prod"]
    assert ch["before"]["node_role_name"] == "" and ch["after_unknown"].get("node_role_name"), ch
    converge_and_destroy(applied, aws, "node role policies changed by hand", reference)
    # converge_and_destroy compared every role's policies with a clean run's;
    # the managed policy itself is someone else's and stays.
    assert iam.get_policy(PolicyArn=managed)["Policy"]["AttachmentCount"] == 0


@pytest.mark.timeout(300)
def test_drift_query_group_deleted(applied: Terraform, aws: Emulator, reference: dict[str, Any]) -> None:
    """Someone deletes the query group's Auto Scaling group: the plan (without error)
    re-creates the query group and its application deployment, and apply does it,
    re-using the group's launch template and role (no duplicate)."""
    aws.boto3("autoscaling").delete_auto_scaling_group(AutoScalingGroupName=f"{SYSTEM}--stage", ForceDelete=True)
    res = applied.plan()
    assert res.ok and not only_errors(res.stdout + res.stderr), res.describe()
    actions, _ = plan_changes(applied)
    # Its launch template, role and load balancer remain, so the provider keeps tracking
    # the group and repairs it in place (the update re-runs the create, adopting them).
    assert actions == {"datomic_query_group.stage": ["update"], "datomic_application.web": ["create"]}, actions
    converge_and_destroy(applied, aws, "the query group's Auto Scaling group deleted by hand", reference)


@pytest.mark.timeout(300)
def test_drift_system_deleted(applied: Terraform, aws: Emulator, reference: dict[str, Any]) -> None:
    """Someone deletes the system's (primary) Auto Scaling group: the plan (without
    error) re-creates the system, and apply adopts its storage (same VPC, subnets,
    bucket and table) instead of making another."""
    before = applied.show_json()["values"]["root_module"]["resources"]
    system_before = next(r["values"] for r in before if r["address"] == "datomic_system.prod")
    aws.boto3("autoscaling").delete_auto_scaling_group(AutoScalingGroupName=f"{SYSTEM}--primary", ForceDelete=True)
    res = applied.plan()
    assert res.ok and not only_errors(res.stdout + res.stderr), res.describe()
    actions, _ = plan_changes(applied)
    # Its leftovers (launch template, role, load balancer) keep it tracked: repaired in
    # place, never replaced (a replace would delete storage with retain_storage = false).
    assert actions["datomic_system.prod"] == ["update"], actions
    assert not [a for a, acts in actions.items() if a != "datomic_system.prod" and "delete" in acts], actions
    res = applied.apply(check=False)
    assert res.ok, f"apply after the system's Auto Scaling group was deleted failed:\n{res.describe()}"
    after = applied.show_json()["values"]["root_module"]["resources"]
    system_after = next(r["values"] for r in after if r["address"] == "datomic_system.prod")
    for attr in ("vpc_id", "subnet_ids", "bucket_name", "table_name", "security_group_id"):
        assert system_after[attr] == system_before[attr], f"{attr} changed: storage not adopted"
    converge_and_destroy(applied, aws, "the system's Auto Scaling group deleted by hand", reference)


# --------------------------------------------------------------------------------------
# 4. IAM eventual consistency
# --------------------------------------------------------------------------------------


INVALID_PROFILE = ("You must use a valid fully-formed launch template. Value ({profile}) for parameter "
                   "iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
IAM_PROPAGATION_ERRORS = {
    # action: (code, HTTP status, message), as AWS answers while IAM changes spread
    "AddRoleToInstanceProfile": ("NoSuchEntity", 404, f"The role with name {SYSTEM}-primary-node cannot be found."),
    "CreateAutoScalingGroup": ("ValidationError", 400, INVALID_PROFILE.format(profile=f"{SYSTEM}--primary-node")),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("action", sorted(IAM_PROPAGATION_ERRORS))
def test_iam_eventual_consistency(action: str, tf: Terraform, aws: Emulator, reference: dict[str, Any]) -> None:
    """IAM is eventually consistent: right after a role or instance profile is
    created, AWS may not find it yet. Adding the role to its instance profile answers
    NoSuchEntity (404); creating the Auto Scaling group whose launch template names the
    new profile answers ValidationError "Invalid IAM Instance Profile name" (both are
    retried by terraform-provider-aws too). Here `action` fails so three times: the
    apply waits it out and succeeds; every profile holds its role."""
    tf.write(full_config())
    code, status, message = IAM_PROPAGATION_ERRORS[action]
    fault = aws.proxy.inject(Fault("error", action=action, code=code, status=status, times=3, message=message))
    t0 = time.monotonic()
    res = tf.apply(check=False)
    took = time.monotonic() - t0
    report("iam eventual consistency", action=action, error=code, answers=fault.injected,
           apply_seconds=round(took, 1))
    assert res.ok, f"apply failed on IAM's eventual consistency ({action}):\n{res.describe()}"
    assert fault.injected == 3
    inv = inventory(aws)
    assert duplicates_and_orphans(inv) == []
    assert_same_as_reference(inv, reference)
    assert {p["name"]: p["roles"] for p in inv["instance_profiles"]} == {
        f"{SYSTEM}--primary-node": [f"{SYSTEM}--primary-node"], f"{SYSTEM}--stage-node": [f"{SYSTEM}--stage-node"]}
    tf.destroy()
    assert leftovers(inventory(aws)) == []


# --------------------------------------------------------------------------------------
# 5. secrets never logged; the provider's log lines are Terraform's JSON
# --------------------------------------------------------------------------------------

ACCESS_KEY = "AKIAEXAMPLESECRET1"
SECRET_KEY = "s3cr3t/DoNotLog+Example"
PLUGIN_LOGGER = "provider.terraform-provider-datomic:"


def secret_forms(secret: str) -> dict[str, str]:
    """The ways a secret could show up in a log: as is, URL-encoded, JSON-escaped, and
    base64-encoded at each of the 3 alignments it can have inside a longer text."""
    raw = secret.encode()
    forms = {
        "plain": secret,
        "url-encoded": urllib.parse.quote(secret, safe=""),
        "form-encoded": urllib.parse.quote_plus(secret),
        "json-escaped": json.dumps(secret)[1:-1].replace("/", "\\/"),
    }
    for pad in range(3):
        for name, enc in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            text = enc(b"\0" * pad + raw).decode().rstrip("=")
            # drop the characters that also hold the padding bytes or the text after
            forms[f"{name}@{pad}"] = text[(pad * 4 + 2) // 3:-2]
    return forms


@pytest.mark.timeout(300)
def test_secrets_never_logged(make_tf, aws: Emulator, tmp_path: Path) -> None:
    """A full plan/apply/destroy at TF_LOG=TRACE with static credentials in the
    provider block: neither key shows up, in any encoding, in Terraform's log or
    output. Every line the provider writes is an hclog JSON entry (@level, @message,
    @module) that Terraform understands: it shows it at the entry's own level with
    its fields, rather than as raw text."""
    log = tmp_path / "terraform-trace.log"
    tf = make_tf("logs", endpoint=aws.url, extra_env={"TF_LOG": "TRACE", "TF_LOG_PATH": str(log)})
    tf.write(full_config(access_key=ACCESS_KEY, secret_key=SECRET_KEY))
    outputs = [tf.plan(), tf.apply(), tf.destroy()]
    assert all(r.ok for r in outputs), "\n".join(r.describe() for r in outputs)
    text = log.read_text(errors="replace")
    everything = text + "".join(r.stdout + r.stderr for r in outputs)
    # the credentials were used: the emulator saw requests signed with the access key
    assert aws.calls(), "no AWS call was made"

    leaks = {f"{which} ({form})": value
             for which, secret in (("access_key", ACCESS_KEY), ("secret_key", SECRET_KEY))
             for form, value in secret_forms(secret).items() if value in everything}
    assert not leaks, f"credentials found in the log ({log}): {leaks}"

    plugin_lines = [line.split(PLUGIN_LOGGER, 1)[1].strip() for line in text.splitlines() if PLUGIN_LOGGER in line]
    levels = re.findall(r"\[(TRACE|DEBUG|INFO|WARN|ERROR)\]\s+" + re.escape(PLUGIN_LOGGER), text)
    raw_json = [line for line in plugin_lines if line.startswith("{")]
    report("logs", log_lines=len(text.splitlines()), provider_lines=len(plugin_lines),
           provider_lines_by_terraform_level=dict(Counter(levels)), provider_lines_not_understood=len(raw_json),
           encodings_checked_per_key=len(secret_forms(SECRET_KEY)))
    assert plugin_lines, f"no line of the provider in the log {log}"
    malformed = []
    for line in raw_json:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            malformed.append(line)
            continue
        if not all(isinstance(entry.get(k), str) for k in ("@level", "@message", "@module")):
            malformed.append(line)
    assert not malformed, "provider log lines that are not hclog JSON:\n" + "\n".join(malformed[:10])
    others = [line for line in plugin_lines if not line.startswith("{") and "@module=provider" not in line]
    assert not others, "provider output that is not a log entry:\n" + "\n".join(others[:10])
    # Terraform (go-plugin) parses each JSON line and logs it at its own level with its
    # fields (`creating: @module=provider tf_resource_type=...`); a line it cannot parse
    # is logged as raw text at DEBUG, whatever its @level, and TF_LOG=INFO hides it.
    assert not raw_json, (
        f"{len(raw_json)} of {len(plugin_lines)} provider log lines were not understood by Terraform "
        "(logged as raw text at DEBUG). go-plugin parses @timestamp with the layout "
        "2006-01-02T15:04:05.000000Z07:00 (exactly 6 fractional digits). First ones:\n" + "\n".join(raw_json[:3]))
    assert re.search(r"\[INFO\]\s+" + re.escape(PLUGIN_LOGGER) + r" creating: .*@module=provider", text), \
        "the provider's INFO line 'creating' is not logged at INFO"


# --------------------------------------------------------------------------------------
# 6. timeouts
# --------------------------------------------------------------------------------------

SLOW_AUTOSCALING_DELAY = 10.0


def system_only_config(timeouts: str = "") -> str:
    return provider_block() + f"""
resource "datomic_system" "prod" {{
  name           = "{SYSTEM}"
  topology       = "production"
  retain_storage = false
{timeouts}}}
"""


@pytest.mark.timeout(300)
def test_create_timeout_is_a_deadline(make_tf, aws: Emulator) -> None:
    """`timeouts { create = "1s" }` while every Auto Scaling write takes 10 s (the
    plan's reads stay fast: the deadline bounds the create, not the plan): the apply
    fails within seconds (the deadline cuts the call in flight; it does not wait for
    the slow calls to end) with an error that says it timed out and which AWS step it
    was on; the next apply, with AWS fast again and no such timeout, converges."""
    tf = make_tf("timeouts", endpoint=aws.url, timeout=120)
    tf.write(system_only_config('  timeouts {\n    create = "1s"\n  }\n'))
    aws.proxy.inject(Fault("delay", service="autoscaling", only_writes=True, delay=SLOW_AUTOSCALING_DELAY))
    t0 = time.monotonic()
    res = tf.apply(check=False)
    took = time.monotonic() - t0
    errors = "\n".join(re.findall(r"^Error: .*(?:\n(?!Error:).*)*", res.stderr, re.M))
    report("timeout", create_timeout="1s", autoscaling_delay_s=SLOW_AUTOSCALING_DELAY,
           apply_seconds=round(took, 1), failed=not res.ok, error=" ".join(errors.split())[:300])
    assert not res.ok, f"apply succeeded in {took:.1f}s despite create = \"1s\":\n{res.describe()}"
    assert re.search(r"time(d)? ?out|deadline", errors, re.I), f"the error does not say it timed out:\n{errors}"
    # Usually CreateAutoScalingGroup (slow here); on a loaded machine the second may
    # end earlier, on another step: any named AWS step will do.
    assert re.search(r"It was (AWS call in flight: |waiting for .*)[A-Z][\w ]+ [A-Z]\w+", " ".join(errors.split())), \
        f"the error does not name the AWS step it was on:\n{errors}"
    assert took < SLOW_AUTOSCALING_DELAY, (
        f"the apply took {took:.1f}s to fail with create = \"1s\": the timeout does not bound the create")

    aws.proxy.clear_faults()
    tf.write(system_only_config())
    res = tf.apply(check=False)
    assert res.ok, f"apply after the timeout failed:\n{res.describe()}"
    inv = inventory(aws)
    assert duplicates_and_orphans(inv) == []
    assert_empty_plan(tf, "the apply that followed a timeout")
    tf.destroy()
    assert leftovers(inventory(aws)) == []
