"""What a system's storage holds besides its network, checked with boto3.

- A customer-managed KMS key per system, found by its alias `alias/datomic-<system>`,
  tagged as the system's; the S3 bucket (SSE-KMS, bucket key) and the DynamoDB table
  (SSE KMS) are encrypted with it.
- plan -> apply -> empty plan -> import gives the same state.
- Retained storage keeps the key (enabled, aliased); a system made again adopts it.
- A storage delete the user asked for deletes the alias and schedules the key's
  deletion (KMS keeps it PendingDeletion for 7 days at the least).
- An alias of our name on a key that is not ours is refused and left untouched.
- A system whose storage has no key (made by an earlier build) gets one on its next
  apply, its bucket and table moved to it, and the plan after is empty.
- The CloudWatch log group `datomic-<system>` is part of the storage: encrypted with the
  key (whose policy lets CloudWatch Logs use it for that group only), tagged, kept and
  deleted with the rest, made on the next apply of a system without one. The nodes'
  root volumes are encrypted with the key too (the launch template names it).
- The network spans three availability zones (us-east-1 has more); an EFS file system
  `datomic-<system>`, encrypted with the key, has a mount target in each subnet, in a
  group `datomic-<system>--efs` admitting NFS from the nodes' group only. Kept with
  retained storage (and adopted), deleted with the storage. A system of an earlier build
  (two zones, no file system) gets the third zone and the file system in place: its Auto
  Scaling group and load balancer spread over the new subnet, no replacement.
"""

from __future__ import annotations

import base64
import json
from typing import Callable

import pytest

from harness import Emulator, Fault, Terraform, provider_hcl
from topology_helpers import apply_ok, assert_replan_empty, import_round_trip, planned_actions

MakeTf = Callable[..., Terraform]
IDENTITY = {"datomic:managed-by": "terraform-provider-datomic"}


def system_hcl(name: str, topology: str, retain: bool) -> str:
    return f"""
resource "datomic_system" "main" {{
  name           = "{name}"
  topology       = "{topology}"
  retain_storage = {"true" if retain else "false"}
  tags           = {{ team = "data" }}
}}
"""


def lb_name_of(aws: Emulator, system: str) -> str:
    """The primary group's load balancer (the only one of the system)."""
    elb = aws.boto3("elbv2", via_proxy=False)
    names = [lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancers"]
             if lb["LoadBalancerName"].startswith(f"{system}-primary-")]
    assert len(names) == 1, names
    return names[0]


def values(tf: Terraform) -> dict:
    for r in tf.show_json()["values"]["root_module"]["resources"]:
        if r["address"] == "datomic_system.main":
            return r["values"]
    raise AssertionError("datomic_system.main not in the state")


def key_tags(kms, key_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}


def check_key(aws: Emulator, v: dict) -> dict:
    """The key of the state: enabled, behind the system's alias, tagged as the
    system's; the bucket and the table are encrypted with it."""
    kms = aws.boto3("kms", via_proxy=False)
    arn = v["kms_key_arn"]
    assert arn.startswith("arn:aws:kms:us-east-1:123456789012:key/"), arn
    meta = kms.describe_key(KeyId=f"alias/datomic-{v['name']}")["KeyMetadata"]
    assert meta["Arn"] == arn and meta["KeyState"] == "Enabled", meta
    assert meta["KeyManager"] == "CUSTOMER", meta
    tags = key_tags(kms, arn)
    assert tags.get("datomic:system") == v["name"] and tags.get("team") == "data", tags
    assert all(tags.get(k) == x for k, x in IDENTITY.items()), tags
    policy = json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
    assert {s["Sid"] for s in policy["Statement"]} == {
        "AccountAdmin", "AutoScalingVolumes", "AutoScalingVolumeGrants", "LogGroup"}, policy
    log_group = f"arn:aws:logs:us-east-1:123456789012:log-group:datomic-{v['name']}"
    logs_use = next(s for s in policy["Statement"] if s["Sid"] == "LogGroup")
    assert logs_use["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}, logs_use
    assert logs_use["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_group}}, logs_use

    # The log group: encrypted with the key, tagged as the system's.
    logs = aws.boto3("logs", via_proxy=False)
    assert v["log_group_name"] == f"datomic-{v['name']}", v
    groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=v["log_group_name"])["logGroups"]
              if g["logGroupName"] == v["log_group_name"]]
    assert len(groups) == 1 and groups[0].get("kmsKeyId") == arn, groups
    assert "retentionInDays" not in groups[0], groups  # kept for ever, as CloudWatch Logs' default
    tags = logs.list_tags_for_resource(resourceArn=log_group)["tags"]
    assert tags.get("datomic:system") == v["name"] and tags.get("team") == "data", tags
    assert all(tags.get(k) == x for k, x in IDENTITY.items()), tags

    # The nodes' root volumes: encrypted with the key.
    ec2 = aws.boto3("ec2", via_proxy=False)
    latest = ec2.describe_launch_template_versions(
        LaunchTemplateId=v["launch_template_id"], Versions=["$Latest"])["LaunchTemplateVersions"][0]
    ebs = [m["Ebs"] for m in latest["LaunchTemplateData"]["BlockDeviceMappings"]]
    assert [(e.get("Encrypted"), e.get("KmsKeyId")) for e in ebs] == [(True, arn)], ebs

    s3 = aws.boto3("s3", via_proxy=False)
    rules = s3.get_bucket_encryption(Bucket=v["bucket_name"])["ServerSideEncryptionConfiguration"]["Rules"]
    assert len(rules) == 1, rules
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn}, rules
    assert rules[0].get("BucketKeyEnabled") is True, rules

    ddb = aws.boto3("dynamodb", via_proxy=False)
    assert v["table_name"] == f"datomic-{v['name']}"
    assert v["catalog_table_name"] == f"datomic-{v['name']}--catalog"
    for name in (v["table_name"], v["catalog_table_name"]):
        table = ddb.describe_table(TableName=name)["Table"]
        sse = table.get("SSEDescription", {})
        assert sse.get("SSEType") == "KMS" and sse.get("KMSMasterKeyArn") == arn, (name, sse)
        assert table.get("DeletionProtectionEnabled") is True, table
        backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED", backups
        tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]}
        assert tags.get("datomic:system") == v["name"] and tags.get("team") == "data", tags
    check_node_policy(aws, v["name"], "primary")
    check_files(aws, v)
    return meta


def efs_group(aws: Emulator, system: str) -> dict | None:
    found = aws.boto3("ec2", via_proxy=False).describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"datomic-{system}--efs"]}])["SecurityGroups"]
    assert len(found) <= 1, found
    return found[0] if found else None


def check_files(aws: Emulator, v: dict) -> None:
    """Three subnets in three zones; the file system encrypted with the key, tagged as
    the system's, a mount target per subnet in its group, which admits NFS from the
    nodes' group only."""
    name = v["name"]
    ec2 = aws.boto3("ec2", via_proxy=False)
    subnets = ec2.describe_subnets(SubnetIds=v["subnet_ids"])["Subnets"]
    assert len(subnets) == 3 and len({s["AvailabilityZone"] for s in subnets}) == 3, subnets
    efs = aws.boto3("efs", via_proxy=False)
    fs = efs.describe_file_systems(FileSystemId=v["file_system_id"])["FileSystems"][0]
    assert fs["CreationToken"] == f"datomic-{name}", fs
    assert fs["Encrypted"] is True and fs["KmsKeyId"] == v["kms_key_arn"], fs
    tags = {t["Key"]: t["Value"] for t in fs["Tags"]}
    assert tags.get("Name") == f"datomic-{name}" and tags.get("team") == "data", tags
    assert all(tags.get(k) == x for k, x in IDENTITY.items()) and tags.get("datomic:system") == name, tags
    group = efs_group(aws, name)
    assert group is not None and group["VpcId"] == v["vpc_id"], group
    mounts = efs.describe_mount_targets(FileSystemId=fs["FileSystemId"])["MountTargets"]
    assert sorted(m["SubnetId"] for m in mounts) == sorted(v["subnet_ids"]), mounts
    for m in mounts:
        groups = efs.describe_mount_target_security_groups(MountTargetId=m["MountTargetId"])["SecurityGroups"]
        assert groups == [group["GroupId"]], groups
    rules = [(p["IpProtocol"], p["FromPort"], p["ToPort"], [u["GroupId"] for u in p.get("UserIdGroupPairs", [])],
              p.get("IpRanges", [])) for p in group["IpPermissions"]]
    assert rules == [("tcp", 2049, 2049, [v["security_group_id"]], [])], rules


def check_node_policy(aws: Emulator, system: str, group: str) -> None:
    """The group's nodes may use the system's key (by its alias) and nothing else of KMS,
    and mount and write the system's file system (by its ARN) only."""
    iam = aws.boto3("iam", via_proxy=False)
    doc = iam.get_role_policy(RoleName=f"{system}--{group}-node", PolicyName="datomic-node")["PolicyDocument"]
    doc = doc if isinstance(doc, dict) else json.loads(doc)
    kms = [st for st in doc["Statement"] if any(str(a).startswith("kms:") for a in st["Action"])]
    assert kms == [{
        "Sid": "SystemKey", "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        "Resource": "arn:aws:kms:us-east-1:123456789012:key/*",
        "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/datomic-{system}"}},
    }], doc
    logs = [st for st in doc["Statement"] if any(str(a).startswith("logs:") for a in st["Action"])]
    group = f"arn:aws:logs:us-east-1:123456789012:log-group:datomic-{system}"
    assert logs == [{
        "Sid": "SystemLogGroup", "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": [group, f"{group}:*"],
    }], doc
    fs = aws.boto3("efs", via_proxy=False).describe_file_systems(CreationToken=f"datomic-{system}")["FileSystems"]
    files = [st for st in doc["Statement"] if any(str(a).startswith("elasticfilesystem:") for a in st["Action"])]
    assert files == [{
        "Sid": "SystemFileSystem", "Effect": "Allow",
        "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
        "Resource": fs[0]["FileSystemArn"],
    }], doc
    tables = next(st for st in doc["Statement"] if st.get("Sid") == "SystemTable")
    assert tables["Resource"] == [f"arn:aws:dynamodb:us-east-1:123456789012:table/datomic-{system}",
                                  f"arn:aws:dynamodb:us-east-1:123456789012:table/datomic-{system}--catalog"], doc


@pytest.mark.aws
@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("topology", ["solo", "production"])
def test_storage_key_through_the_lifecycle(tf: Terraform, aws: Emulator, topology: str) -> None:
    name = f"keys-{topology[:4]}"
    looked_up = """
data "datomic_system" "found" {
  name = datomic_system.main.name
}

output "found" {
  value = [data.datomic_system.found.kms_key_arn, data.datomic_system.found.catalog_table_name,
           data.datomic_system.found.log_group_name]
}
"""
    tf.write(provider_hcl() + system_hcl(name, topology, retain=True) + looked_up)
    plan = tf.plan_json()
    assert planned_actions(plan) == {"datomic_system.main": ("create",)}
    apply_ok(tf)
    v = values(tf)
    check_key(aws, v)
    assert tf.outputs()["found"] == [v["kms_key_arn"], v["catalog_table_name"], v["log_group_name"]]
    assert_replan_empty(tf, aws)
    import_round_trip(tf)
    assert_replan_empty(tf, aws)

    # Retained: the key stays, enabled and aliased; a system made again adopts it.
    tf.destroy()
    kms = aws.boto3("kms", via_proxy=False)
    kept = kms.describe_key(KeyId=f"alias/datomic-{name}")["KeyMetadata"]
    assert kept["Arn"] == v["kms_key_arn"] and kept["KeyState"] == "Enabled", kept
    logs = aws.boto3("logs", via_proxy=False)
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=f"datomic-{name}")["logGroups"]] \
        == [f"datomic-{name}"]
    efs = aws.boto3("efs", via_proxy=False)
    assert [f["FileSystemId"] for f in efs.describe_file_systems(CreationToken=f"datomic-{name}")["FileSystems"]] \
        == [v["file_system_id"]]
    group = efs_group(aws, name)
    # The nodes' group is gone, and so is the rule that named it.
    assert group is not None and group["IpPermissions"] == [], group
    apply_ok(tf)
    again = values(tf)
    assert again["kms_key_arn"] == v["kms_key_arn"]
    assert again["file_system_id"] == v["file_system_id"]
    check_key(aws, again)
    assert_replan_empty(tf, aws)

    # Deleted with the storage: the alias goes, the key is scheduled for deletion.
    tf.write(provider_hcl() + system_hcl(name, topology, retain=False))
    apply_ok(tf)
    tf.destroy()
    assert aws.boto3("dynamodb", via_proxy=False).list_tables()["TableNames"] == []
    meta = kms.describe_key(KeyId=v["kms_key_arn"])["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion", meta
    aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert f"alias/datomic-{name}" not in aliases, aliases
    assert logs.describe_log_groups(logGroupNamePrefix=f"datomic-{name}")["logGroups"] == []
    assert efs.describe_file_systems(CreationToken=f"datomic-{name}")["FileSystems"] == []
    assert efs_group(aws, name) is None


@pytest.mark.aws
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_key_scheduled_for_deletion_is_restored_by_a_new_system(tf: Terraform, aws: Emulator) -> None:
    """A key of ours found behind the system's alias while PendingDeletion (here: the
    alias put back by hand after a storage delete, within the 7 days) is restored:
    its deletion cancelled, enabled again, and used."""
    name = "revived"
    tf.write(provider_hcl() + system_hcl(name, "solo", retain=False))
    apply_ok(tf)
    old = values(tf)["kms_key_arn"]
    tf.destroy()
    kms = aws.boto3("kms", via_proxy=False)
    assert kms.describe_key(KeyId=old)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    # The alias put back on the scheduled key: the new system restores and adopts it.
    kms.create_alias(AliasName=f"alias/datomic-{name}", TargetKeyId=old)
    apply_ok(tf)
    v = values(tf)
    assert v["kms_key_arn"] == old
    check_key(aws, v)
    assert_replan_empty(tf, aws)
    tf.destroy()


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_an_alias_on_a_strangers_key_is_refused_and_left_alone(tf: Terraform, aws: Emulator) -> None:
    name = "stranger"
    kms = aws.boto3("kms", via_proxy=False)
    theirs = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "other"}])["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/datomic-{name}", TargetKeyId=theirs["KeyId"])
    tf.write(provider_hcl() + system_hcl(name, "solo", retain=False))
    res = tf.apply(check=False)
    text = " ".join((res.stdout + res.stderr).split())
    assert not res.ok, res.describe()
    assert f"alias/datomic-{name}" in text and "never adopts, changes or deletes" in text, text
    meta = kms.describe_key(KeyId=f"alias/datomic-{name}")["KeyMetadata"]
    assert meta["KeyId"] == theirs["KeyId"] and meta["KeyState"] == "Enabled", meta
    assert key_tags(kms, theirs["KeyId"]) == {"team": "other"}
    assert not aws.boto3("dynamodb", via_proxy=False).list_tables()["TableNames"]
    tf.destroy()
    assert kms.describe_key(KeyId=theirs["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


@pytest.mark.aws
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_system_without_a_key_gets_one_on_its_next_apply(tf: Terraform, aws: Emulator) -> None:
    """As a system of an earlier build: its storage has no key (here: the alias removed
    by hand, so the provider finds none), no catalog table, no log group and no file
    system (deleted by hand), and its network two zones (the third subnet taken out of
    the Auto Scaling group and the load balancer, then deleted). The plan shows
    kms_key_arn, catalog_table_name, log_group_name, file_system_id and subnet_ids known
    after apply, an update in place; the apply makes the key, the catalog table, the log
    group, the third subnet and the file system, moves the bucket and table to the key,
    and spreads the group and its load balancer over the new subnet. Its launch template
    (naming the old key) gets a version with the new key: the node is replaced."""
    name = "upgraded"
    tf.write(provider_hcl() + system_hcl(name, "solo", retain=False))
    apply_ok(tf)
    before = values(tf)
    kms = aws.boto3("kms", via_proxy=False)
    kms.delete_alias(AliasName=f"alias/datomic-{name}")
    ddb = aws.boto3("dynamodb", via_proxy=False)
    ddb.update_table(TableName=f"datomic-{name}--catalog", DeletionProtectionEnabled=False)
    ddb.delete_table(TableName=f"datomic-{name}--catalog")
    aws.boto3("logs", via_proxy=False).delete_log_group(logGroupName=f"datomic-{name}")
    ec2 = aws.boto3("ec2", via_proxy=False)
    nodes_before = {i["InstanceId"] for r in ec2.describe_instances(
        Filters=[{"Name": "tag:datomic:system", "Values": [name]},
                 {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
        for i in r["Instances"]}
    assert nodes_before
    efs = aws.boto3("efs", via_proxy=False)
    for m in efs.describe_mount_targets(FileSystemId=before["file_system_id"])["MountTargets"]:
        efs.delete_mount_target(MountTargetId=m["MountTargetId"])
    efs.delete_file_system(FileSystemId=before["file_system_id"])
    ec2.delete_security_group(GroupId=efs_group(aws, name)["GroupId"])
    two, third = before["subnet_ids"][:2], before["subnet_ids"][2]
    asg = aws.boto3("autoscaling", via_proxy=False)
    asg.update_auto_scaling_group(AutoScalingGroupName=before["autoscaling_group_name"],
                                  VPCZoneIdentifier=",".join(two))
    elb = aws.boto3("elbv2", via_proxy=False)
    lb = elb.describe_load_balancers(Names=[lb_name_of(aws, name)])["LoadBalancers"][0]
    elb.set_subnets(LoadBalancerArn=lb["LoadBalancerArn"], Subnets=two)
    ec2.delete_subnet(SubnetId=third)
    plan = tf.plan_json()
    assert planned_actions(plan) == {"datomic_system.main": ("update",)}, planned_actions(plan)
    change = next(rc["change"] for rc in plan["resource_changes"] if rc["address"] == "datomic_system.main")
    assert change["after_unknown"].get("kms_key_arn") is True, change
    assert change["after_unknown"].get("catalog_table_name") is True, change
    assert change["after_unknown"].get("log_group_name") is True, change
    assert change["after_unknown"].get("file_system_id") is True, change
    assert change["after_unknown"].get("subnet_ids") is True, change
    apply_ok(tf)
    after = values(tf)
    nodes_after = {i["InstanceId"] for r in ec2.describe_instances(
        Filters=[{"Name": "tag:datomic:system", "Values": [name]},
                 {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
        for i in r["Instances"]}
    assert nodes_after and not nodes_after & nodes_before, (nodes_before, nodes_after)
    assert after["subnet_ids"][:2] == two and third not in after["subnet_ids"], after["subnet_ids"]
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[after["autoscaling_group_name"]])
    assert sorted(group["AutoScalingGroups"][0]["VPCZoneIdentifier"].split(",")) == sorted(after["subnet_ids"])
    lb = elb.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][0]
    assert sorted(z["SubnetId"] for z in lb["AvailabilityZones"]) == sorted(after["subnet_ids"]), lb
    assert after["kms_key_arn"] and after["kms_key_arn"] != before["kms_key_arn"]
    for k in ("vpc_id", "bucket_name", "table_name", "autoscaling_group_name"):
        assert after[k] == before[k], k
    check_key(aws, after)
    assert_replan_empty(tf, aws)
    tf.destroy()


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_a_key_alias_retried_after_its_answer_was_lost_keeps_its_key(tf: Terraform, aws: Emulator) -> None:
    """CreateAlias took effect but its answer was lost: the retry meets AlreadyExists,
    and the alias already points at the key just made, which is kept (not scheduled for
    deletion as a key nothing finds would be)."""
    name = "lostalias"
    aws.proxy.inject(Fault("drop_response", service="kms", action="CreateAlias", times=1))
    tf.write(provider_hcl() + system_hcl(name, "solo", retain=False))
    apply_ok(tf)
    drops = [c.fault for c in aws.calls("kms") if c.action == "CreateAlias"]
    assert "drop_response" in drops, drops
    v = values(tf)
    check_key(aws, v)
    kms = aws.boto3("kms", via_proxy=False)
    metas = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    # (The emulator's own default keys aside, e.g. its EBS key, which it makes as a customer key.)
    ours = [(m["KeyState"], m["Description"]) for m in metas if m["Description"].startswith("Datomic system")]
    assert ours == [("Enabled", f"Datomic system {name}: encrypts its storage")], ours
    tf.destroy()


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_a_log_group_of_our_name_not_ours_is_refused_and_left_alone(tf: Terraform, aws: Emulator) -> None:
    """Someone else's log group named datomic-<system>: the apply stops, naming it, before
    anything of the storage is made; the log group keeps its key, tags and retention."""
    name = "logged"
    logs = aws.boto3("logs", via_proxy=False)
    logs.create_log_group(logGroupName=f"datomic-{name}", tags={"team": "other"})
    logs.put_retention_policy(logGroupName=f"datomic-{name}", retentionInDays=7)
    before = logs.describe_log_groups(logGroupNamePrefix=f"datomic-{name}")["logGroups"]
    tf.write(provider_hcl() + system_hcl(name, "solo", retain=False))
    res = tf.apply(check=False)
    text = " ".join((res.stdout + res.stderr).split())
    assert not res.ok, res.describe()
    assert f"datomic-{name}" in text and "never adopts, changes or deletes" in text, text
    assert not aws.boto3("dynamodb", via_proxy=False).list_tables()["TableNames"]
    tf.destroy()
    after = logs.describe_log_groups(logGroupNamePrefix=f"datomic-{name}")["logGroups"]
    assert after == before, (before, after)
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:datomic-{name}"
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "other"}
    assert not [c.action for c in aws.writes("logs")], "writes to someone else's log group"


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_a_query_group_of_an_earlier_build_gets_the_volume_key_on_its_next_apply(
        tf: Terraform, aws: Emulator) -> None:
    """A query group whose launch template predates the volumes' key (here: a version
    written by hand without KmsKeyId and without the key in the node configuration, as
    an earlier build wrote it): the plan shows an update of the group
    (launch_template_id known after apply), the apply writes a version naming the
    system's key, and the plan after it is empty."""
    name = "oldgroup"
    tf.write(provider_hcl() + system_hcl(name, "production", retain=False) + """
resource "datomic_query_group" "analytics" {
  system        = datomic_system.main.name
  name          = "analytics"
  instance_type = "i3.large"
}
""")
    apply_ok(tf)
    ec2 = aws.boto3("ec2", via_proxy=False)
    lt_name = f"{name}--analytics"
    latest = ec2.describe_launch_template_versions(
        LaunchTemplateName=lt_name, Versions=["$Latest"])["LaunchTemplateVersions"][0]
    data = latest["LaunchTemplateData"]
    text = base64.b64decode(data["UserData"]).decode()
    lines = []
    for ln in text.splitlines():
        if ln.lstrip().startswith("{"):
            node = json.loads(ln)
            assert node.pop("volume_key_arn", None), node
            ln = json.dumps(node)
        lines.append(ln)
    data["UserData"] = base64.b64encode(("\n".join(lines) + "\n").encode()).decode()
    for m in data["BlockDeviceMappings"]:
        m["Ebs"].pop("KmsKeyId", None)
    ec2.create_launch_template_version(LaunchTemplateName=lt_name, LaunchTemplateData=data)

    plan = tf.plan_json()
    actions = planned_actions(plan)
    assert actions == {"datomic_query_group.analytics": ("update",), "datomic_system.main": ("no-op",)}, actions
    change = next(rc["change"] for rc in plan["resource_changes"]
                  if rc["address"] == "datomic_query_group.analytics")
    assert change["after_unknown"].get("launch_template_id") is True, change
    apply_ok(tf)
    latest = ec2.describe_launch_template_versions(
        LaunchTemplateName=lt_name, Versions=["$Latest"])["LaunchTemplateVersions"][0]
    key = values(tf)["kms_key_arn"]
    assert [m["Ebs"].get("KmsKeyId") for m in latest["LaunchTemplateData"]["BlockDeviceMappings"]] == [key]
    assert_replan_empty(tf, aws)
    tf.destroy()
