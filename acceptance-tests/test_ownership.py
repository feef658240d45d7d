"""Never touch what is not ours, end to end through the real terraform CLI.

An AWS object belongs to a system (and a group) only when its identity tags say so
(`datomic:managed-by`, `datomic:system`, `datomic:group`); its name never does:

- Names cannot collide: `<system>--<group>` (names never contain `--`), so system `a`
  with query group `b-primary` and system `a-b` coexist and are destroyed independently.
- An IAM role or Auto Scaling group made by someone else with our name is refused with
  an error naming it and its tags, and left exactly as it was by apply, import and
  destroy.
- The S3 bucket carries the account id, and a bucket of that name made by another
  account (or made outside the provider in this one) is refused, never written to.
- A subnet someone adds to a provider-made VPC is neither adopted nor deleted; the VPC
  that holds it is kept, with a warning, when the storage is deleted.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable

import pytest

from harness import Emulator, Terraform, provider_hcl

MakeTf = Callable[..., Terraform]
ACCOUNT = "123456789012"
TRUST_LAMBDA = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
THEIR_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:theirs"}]}


def tags_of(items: list[dict] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def system_hcl(name: str, topology: str = "solo", body: str = "") -> str:
    return f"""
resource "datomic_system" "main" {{
  name           = "{name}"
  topology       = "{topology}"
  retain_storage = false
{body}}}
"""


def autoscaling_service_role(aws: Emulator) -> None:
    """The account has AWS's Auto Scaling service-linked role, as most accounts do (Auto
    Scaling makes it with an account's first group): the storage key's policy names it,
    and the provider reads it, and makes it only when it is missing."""
    iam = aws.boto3("iam", via_proxy=False)
    try:
        iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")
    except iam.exceptions.ClientError as e:  # made already (this emulator run): as good
        if e.response["Error"]["Code"] not in ("InvalidInput", "EntityAlreadyExists"):
            raise


def their_role(aws: Emulator, name: str) -> None:
    iam = aws.boto3("iam", via_proxy=False)
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA),
                    Tags=[{"Key": "team", "Value": "other"}])
    iam.put_role_policy(RoleName=name, PolicyName="theirs", PolicyDocument=json.dumps(THEIR_POLICY))


def role_as_it_is(aws: Emulator, name: str) -> dict[str, Any]:
    iam = aws.boto3("iam", via_proxy=False)
    role = iam.get_role(RoleName=name)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    return {
        "tags": tags_of(role.get("Tags")),
        "trust": trust if isinstance(trust, dict) else json.loads(trust),
        "policies": {p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                     for p in iam.list_role_policies(RoleName=name)["PolicyNames"]},
        "permissions_boundary": role.get("PermissionsBoundary"),
    }


def refused(res: Any, name: str) -> str:
    text = " ".join((res.stdout + res.stderr).split())  # Terraform wraps long details
    assert not res.ok, f"the apply went through over {name}:\n{res.describe()}"
    assert f'"{name}"' in text and "never adopts, changes or deletes" in text, text
    return text


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_colliding_names_coexist_and_destroy_independently(tf: Terraform, make_tf: MakeTf, aws: Emulator) -> None:
    """System `a` with query group `b-primary` and system `a-b`, in two states: with
    `<system>-<group>` both were `a-b-primary` and the second adopted the first's group.
    Now each has its own objects, and destroying one leaves the other whole."""
    tf.write(provider_hcl() + system_hcl("a", "production") + """
resource "datomic_query_group" "bp" {
  system = datomic_system.main.name
  name   = "b-primary"
}
""")
    tf.apply()
    other = make_tf("a-b", endpoint=aws.url)
    other.write(provider_hcl() + system_hcl("a-b"))
    other.apply()

    asg = aws.boto3("autoscaling", via_proxy=False)
    groups = {g["AutoScalingGroupName"]: tags_of(g["Tags"])
              for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]}
    assert groups["a--b-primary"]["datomic:system"] == "a"
    assert groups["a--b-primary"]["datomic:group"] == "b-primary"
    assert groups["a-b--primary"]["datomic:system"] == "a-b"
    assert groups["a-b--primary"]["datomic:group"] == "primary"
    iam = aws.boto3("iam", via_proxy=False)

    def node_bucket(role: str) -> str:
        doc = iam.get_role_policy(RoleName=role, PolicyName="datomic-node")["PolicyDocument"]
        return next(st for st in doc["Statement"] if st["Sid"] == "SystemBucket")["Resource"][0]

    assert node_bucket("a--b-primary-node") == f"arn:aws:s3:::datomic-a-{ACCOUNT}-storage"
    assert node_bucket("a-b--primary-node") == f"arn:aws:s3:::datomic-a-b-{ACCOUNT}-storage"

    other.destroy()
    left = {g["AutoScalingGroupName"] for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]}
    assert left == {"a--primary", "a--b-primary"}, left
    assert node_bucket("a--b-primary-node") == f"arn:aws:s3:::datomic-a-{ACCOUNT}-storage"
    res = tf.plan("-detailed-exitcode")
    assert res.rc == 0, f"system a changed when system a-b was destroyed:\n{res.describe()}"
    tf.destroy()
    assert asg.describe_auto_scaling_groups()["AutoScalingGroups"] == []


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_foreign_role_with_our_name_is_refused_and_left_untouched(tf: Terraform, aws: Emulator) -> None:
    """Another team's role happens to have the name of our node role: the apply is
    refused with an error naming it and its tags, before anything is written to it;
    its trust policy, tags and inline policy stay as they were, also after destroy."""
    name = "team--primary-node"
    autoscaling_service_role(aws)
    their_role(aws, name)
    before = role_as_it_is(aws, name)
    tf.write(provider_hcl() + system_hcl("team"))
    refused(tf.apply(check=False), name)
    assert role_as_it_is(aws, name) == before
    iam_writes = [c.action for c in aws.writes("iam")]
    assert iam_writes == [], f"IAM writes although the role is not ours: {iam_writes}"
    tf.destroy()
    assert role_as_it_is(aws, name) == before


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_foreign_autoscaling_group_is_refused_by_apply_import_and_destroy(
        tf: Terraform, make_tf: MakeTf, aws: Emulator) -> None:
    """An Auto Scaling group made outside the provider with our name: apply refuses
    it (no write to it), import refuses it with the same clear error, and destroy of
    what the failed apply made leaves it as it was."""
    name = "other--primary"
    ec2 = aws.boto3("ec2", via_proxy=False)
    asg = aws.boto3("autoscaling", via_proxy=False)
    lt = ec2.create_launch_template(LaunchTemplateName="their-template",
                                    LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t2.micro"})
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=0, DesiredCapacity=0,
        LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplate"]["LaunchTemplateId"], "Version": "$Latest"},
        AvailabilityZones=["us-east-1a"],
        Tags=[{"Key": "team", "Value": "other", "PropagateAtLaunch": True, "ResourceId": name,
               "ResourceType": "auto-scaling-group"}])

    def group() -> dict[str, Any]:
        g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        assert len(g) == 1, g
        return {"tags": tags_of(g[0]["Tags"]), "template": g[0]["LaunchTemplate"],
                "sizes": (g[0]["MinSize"], g[0]["MaxSize"], g[0]["DesiredCapacity"])}

    before = group()
    importer = make_tf("import", endpoint=aws.url)
    importer.write(provider_hcl() + system_hcl("other"))
    res = importer.import_("datomic_system.main", "other", check=False)
    refused(res, name)
    assert group() == before

    tf.write(provider_hcl() + system_hcl("other"))
    refused(tf.apply(check=False), name)
    assert group() == before
    writes = [c.action for c in aws.writes("autoscaling")]
    assert writes == [], f"Auto Scaling writes although the group is not ours: {writes}"
    tf.destroy()
    assert group() == before


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_bucket_of_another_account_is_refused(tf: Terraform, aws: Emulator) -> None:
    """Another account creates the bucket our system would get first (S3 names are
    global): the apply is refused with an error naming the bucket, and nothing is
    written to it. The bucket name carries the account id even with
    skip_requesting_account_id (the tests' provider block sets it)."""
    bucket = f"datomic-sniped-{ACCOUNT}-storage"
    sts = aws.boto3("sts", via_proxy=False)
    creds = sts.assume_role(RoleArn="arn:aws:iam::111111111111:role/attacker",
                            RoleSessionName="attacker")["Credentials"]
    import boto3
    theirs = boto3.client("s3", endpoint_url=aws.direct_url, region_name="us-east-1",
                          aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"])
    theirs.create_bucket(Bucket=bucket)
    theirs.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "owner", "Value": "attacker"}]})
    tf.write(provider_hcl() + system_hcl("sniped"))
    res = tf.apply(check=False)
    text = " ".join((res.stdout + res.stderr).split())
    assert not res.ok and bucket in text, text
    s3_writes = [c for c in aws.writes("s3") if bucket in c.path]
    assert s3_writes == [], f"the provider wrote to another account's bucket: {s3_writes}"
    assert tags_of(theirs.get_bucket_tagging(Bucket=bucket)["TagSet"]) == {"owner": "attacker"}
    tf.destroy()
    theirs.head_bucket(Bucket=bucket)


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_untagged_bucket_with_our_name_is_refused(tf: Terraform, aws: Emulator) -> None:
    """A bucket of this account that the provider did not make (no identity tags, no
    journal entry of an interrupted create) is not adopted: refused, never written to."""
    bucket = f"datomic-handmade-{ACCOUNT}-storage"
    s3 = aws.boto3("s3", via_proxy=False)
    s3.create_bucket(Bucket=bucket)
    tf.write(provider_hcl() + system_hcl("handmade"))
    refused(tf.apply(check=False), bucket)
    assert [c for c in aws.writes("s3") if bucket in c.path] == []
    with pytest.raises(Exception):
        s3.get_bucket_tagging(Bucket=bucket)
    tf.destroy()
    s3.head_bucket(Bucket=bucket)


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_subnet_added_by_hand_is_neither_adopted_nor_deleted(tf: Terraform, aws: Emulator) -> None:
    """Someone adds a subnet to the VPC the provider made: the plan stays empty (it is
    not the system's), and deleting the storage deletes the system's own subnets but
    keeps that subnet, and so the VPC, with a warning that says why."""
    tf.write(provider_hcl() + system_hcl("subs"))
    tf.apply()
    values = tf.show_json()["values"]["root_module"]["resources"][0]["values"]
    ec2 = aws.boto3("ec2", via_proxy=False)
    theirs = ec2.create_subnet(VpcId=values["vpc_id"], CidrBlock="10.213.9.0/24",
                               AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    res = tf.plan("-detailed-exitcode")
    assert res.rc == 0, f"a subnet added by hand changed the plan:\n{res.describe()}"
    res = tf.destroy()
    text = " ".join((res.stdout + res.stderr).split())
    assert "was kept" in text and theirs in text, text
    left = {s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [values["vpc_id"]]}])["Subnets"]}
    assert left == {theirs}, left


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_custom_image_root_volume_is_encrypted(tf: Terraform, aws: Emulator) -> None:
    """An image whose root device is not Amazon Linux's `/dev/xvda` (e.g. `/dev/sda1`):
    the launch template's encrypted volume maps that device, so the nodes do not boot
    from an unencrypted root volume of the image's own."""
    ec2 = aws.boto3("ec2", via_proxy=False)
    images = [i for i in ec2.describe_images(Owners=["amazon"])["Images"]
              if i.get("RootDeviceName") not in (None, "/dev/xvda") and i.get("Architecture") == "x86_64"]
    assert images, "the emulator has no image with another root device"
    image = images[0]
    tf.write(provider_hcl() + system_hcl("custom", body=f'  image_id = "{image["ImageId"]}"\n'))
    tf.apply()
    lt = ec2.describe_launch_templates(LaunchTemplateNames=["custom--primary"])["LaunchTemplates"][0]
    data = ec2.describe_launch_template_versions(
        LaunchTemplateId=lt["LaunchTemplateId"], Versions=["$Latest"])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    mappings = data["BlockDeviceMappings"]
    assert [(m["DeviceName"], m["Ebs"]["Encrypted"]) for m in mappings] == [(image["RootDeviceName"], True)], mappings
    tf.destroy()


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_ipv6_client_rule_added_by_hand_is_drift(tf: Terraform, aws: Emulator) -> None:
    """Someone opens the client port to every IPv6 address on the nodes' security group:
    the provider writes no IPv6 rule, so the plan shows it in `client_cidr_blocks` as
    drift, and apply revokes it."""
    tf.write(provider_hcl() + system_hcl("six"))
    tf.apply()
    sg = tf.show_json()["values"]["root_module"]["resources"][0]["values"]["security_group_id"]
    ec2 = aws.boto3("ec2", via_proxy=False)
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 8182, "ToPort": 8182, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    plan = tf.plan_json()
    change = next(rc["change"] for rc in plan["resource_changes"] if rc["address"] == "datomic_system.main")
    assert change["actions"] == ["update"], change
    assert "::/0" in (change["before"]["client_cidr_blocks"] or []), change["before"]
    tf.apply()
    perms = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"]
    assert not [p for p in perms if p.get("Ipv6Ranges")], perms
    res = tf.plan("-detailed-exitcode")
    assert res.rc == 0, res.describe()
    tf.destroy()


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_state_of_schema_version_0_upgrades_or_is_refused(tf: Terraform, aws: Emulator) -> None:
    """A state written under schema version 0 (before `arn` and the `--` names): one whose
    objects already have this version's names upgrades and plans empty (`arn` filled by
    the refresh); one whose objects carry the old `<system>-<group>` names is refused
    with what to do, instead of being upgraded into a state whose objects are lost."""
    tf.write(provider_hcl() + system_hcl("upgr", "production") + """
resource "datomic_query_group" "qg" {
  system = datomic_system.main.name
  name   = "qg"
}
""")
    tf.apply()
    path = tf.workdir / "terraform.tfstate"
    current = json.loads(path.read_text())

    def written_by_v0(rename: bool) -> dict:
        state = json.loads(json.dumps(current))
        state["serial"] += 1
        for r in state["resources"]:
            for inst in r["instances"]:
                inst["schema_version"] = 0
                inst["attributes"].pop("arn", None)
                if rename:
                    inst["attributes"]["autoscaling_group_name"] = \
                        inst["attributes"]["autoscaling_group_name"].replace("--", "-")
        return state

    path.write_text(json.dumps(written_by_v0(rename=False)))
    res = tf.plan("-detailed-exitcode")
    assert res.rc == 0, f"an upgraded state does not plan empty:\n{res.describe()}"
    tf.apply()
    arns = {r["type"]: r["values"]["arn"] for r in tf.show_json()["values"]["root_module"]["resources"]}
    assert arns["datomic_system"].startswith("arn:aws:autoscaling:") and "upgr--primary" in arns["datomic_system"], arns
    assert "upgr--qg" in arns["datomic_query_group"], arns

    current = json.loads(path.read_text())
    path.write_text(json.dumps(written_by_v0(rename=True)))
    res = tf.plan()
    text = " ".join((res.stdout + res.stderr).split())
    assert not res.ok and "State written by an earlier build" in text and "upgr-primary" in text, text
    current["serial"] += 2
    path.write_text(json.dumps(current))
    tf.destroy()


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_node_roles_are_bounded_and_the_boundary_is_ours(tf: Terraform, aws: Emulator) -> None:
    """Every node role carries the system's permissions boundary, a managed policy that
    allows no IAM, Organizations or account writes whatever the role's own policies say.
    A boundary removed by hand is drift that apply puts back; destroy deletes the policy.
    A policy of someone else's with the boundary's name is refused before any IAM write."""
    iam = aws.boto3("iam", via_proxy=False)
    arn = f"arn:aws:iam::{ACCOUNT}:policy/datomic/bound--node-boundary"
    tf.write(provider_hcl() + system_hcl("bound"))
    tf.apply()
    role = iam.get_role(RoleName="bound--primary-node")["Role"]
    assert role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn") == arn, role
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]
    doc = doc if isinstance(doc, dict) else json.loads(doc)
    allow_all_but = [s for s in doc["Statement"] if s["Effect"] == "Allow" and "NotAction" in s]
    assert allow_all_but and "iam:*" in allow_all_but[0]["NotAction"], doc
    assert not [s for s in doc["Statement"] if s["Effect"] == "Allow"
                and any(a in ("iam:*", "*", "iam:PutRolePolicy", "iam:PassRole") for a in
                        ([s["Action"]] if isinstance(s.get("Action"), str) else s.get("Action", [])))], doc
    ptags = tags_of(iam.list_policy_tags(PolicyArn=arn)["Tags"])
    assert ptags.get("datomic:system") == "bound" and "datomic:group" not in ptags, ptags
    # The system's tags change: the boundary's follow.
    tf.write(provider_hcl() + system_hcl("bound", body='  tags = { team = "blue" }\n'))
    tf.apply()
    ptags = tags_of(iam.list_policy_tags(PolicyArn=arn)["Tags"])
    assert ptags.get("team") == "blue" and ptags.get("datomic:system") == "bound", ptags
    tf.write(provider_hcl() + system_hcl("bound"))
    tf.apply()
    assert "team" not in tags_of(iam.list_policy_tags(PolicyArn=arn)["Tags"])

    iam.delete_role_permissions_boundary(RoleName="bound--primary-node")
    plan = tf.plan_json()
    change = next(rc["change"] for rc in plan["resource_changes"] if rc["address"] == "datomic_system.main")
    assert change["actions"] == ["update"], change
    tf.apply()
    role = iam.get_role(RoleName="bound--primary-node")["Role"]
    assert role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn") == arn, role
    res = tf.plan("-detailed-exitcode")
    assert res.rc == 0, res.describe()
    tf.destroy()
    assert not [p for p in iam.list_policies(Scope="Local")["Policies"] if p["Arn"] == arn]

    # Someone else's policy with the boundary's name: refused, untouched.
    iam.create_policy(PolicyName="bound--node-boundary", Path="/datomic/",
                      PolicyDocument=json.dumps(THEIR_POLICY), Tags=[{"Key": "team", "Value": "other"}])
    writes_before = len(aws.writes("iam"))
    refused(tf.apply(check=False), "bound--node-boundary")
    assert len(aws.writes("iam")) == writes_before, [c.action for c in aws.writes("iam")][writes_before:]
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert len(versions) == 1, versions
    tf.destroy()
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Arn"] == arn


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_boundary_made_by_a_stranger_while_we_create_it_is_refused(tf: Terraform, aws: Emulator) -> None:
    """IAM's reads lag its writes: a policy someone made a moment before our create is not
    found by GetPolicy, and our CreatePolicy answers EntityAlreadyExists. That answer is
    not "ours already": the policy is read once IAM shows it, and a stranger's is refused."""
    iam = aws.boto3("iam", via_proxy=False)
    arn = f"arn:aws:iam::{ACCOUNT}:policy/datomic/race--node-boundary"
    tf.write(provider_hcl() + system_hcl("race"))
    old = aws.proxy.set_strict(dataclasses.replace(aws.proxy.strict.config, consistency_window=15.0))
    made: list[bool] = []

    def stranger_before_our_boundary(call: Any, answer: Any) -> None:
        # Someone makes the policy right before the provider looks for the boundary (it
        # reads the node role's instance profile just before), through the proxy, so that
        # its reads lag as AWS's do.
        if not made and call.action == "GetInstanceProfile":
            made.append(True)
            aws.boto3("iam", via_proxy=True).create_policy(
                PolicyName="race--node-boundary", Path="/datomic/", PolicyDocument=json.dumps(THEIR_POLICY),
                Tags=[{"Key": "team", "Value": "other"}])

    try:
        aws.proxy.on_forwarded = stranger_before_our_boundary
        res = tf.apply(check=False)
    finally:
        aws.proxy.on_forwarded = None
        aws.proxy.set_strict(old)
    assert made, res.describe()
    refused(res, "race--node-boundary")
    creates = [c for c in aws.calls("iam") if c.action == "CreatePolicy"]
    assert [c.status for c in creates][-1] == 409, "the create did not meet the policy unseen"
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("race--")]
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 1
    tf.destroy()
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Arn"] == arn


@pytest.mark.aws
@pytest.mark.timeout(900)
def test_node_role_profile_or_group_made_by_a_stranger_while_we_create_it_is_refused(
        tf: Terraform, aws: Emulator) -> None:
    """IAM's and Auto Scaling's reads lag their writes: a node role, instance profile or
    Auto Scaling group someone made a moment before our create is not found by our
    look-up, and our create answers that it exists. That answer is not "ours already":
    the object is read once AWS shows it, and a stranger's is refused and left as it was
    (nothing written to it). Once the names are free, the same query group is made."""
    iam, ec2, autoscaling = aws.boto3("iam"), aws.boto3("ec2"), aws.boto3("autoscaling")
    name = "late--qg-node"  # the query group's node role and instance profile
    asg = "late--qg"
    autoscaling_service_role(aws)
    system = provider_hcl() + system_hcl("late", "production")
    tf.write(system)
    tf.apply()
    subnet = ec2.describe_subnets(Filters=[{"Name": "tag:datomic:system", "Values": ["late"]}])["Subnets"][0]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName="theirs", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t3.small"})
    tf.write(system + """
resource "datomic_query_group" "qg" {
  system = datomic_system.main.name
  name   = "qg"
}
""")
    old = aws.proxy.set_strict(dataclasses.replace(aws.proxy.strict.config, consistency_window=15.0))
    # Made through the proxy (so that its reads lag as AWS's do) right after the provider's
    # own look-up found none.
    proxied = aws.boto3("iam", via_proxy=True)
    made: list[str] = []

    def stranger_after(action: str, make: Callable[[], Any], status: int = 404) -> Callable[[Any, Any], None]:
        def hook(call: Any, answer: Any) -> None:
            if call.action == action and answer[0] == status and action not in made:
                made.append(action)
                make()
        return hook

    try:
        aws.proxy.on_forwarded = stranger_after("GetRole", lambda: proxied.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA), Tags=[{"Key": "team", "Value": "other"}]))
        refused(tf.apply(check=False), name)
        assert made == ["GetRole"]
        assert role_as_it_is(aws, name)["policies"] == {}
        iam.delete_role(RoleName=name)

        aws.proxy.on_forwarded = stranger_after("GetInstanceProfile", lambda: proxied.create_instance_profile(
            InstanceProfileName=name, Tags=[{"Key": "team", "Value": "other"}]))
        refused(tf.apply(check=False), name)
        assert made == ["GetRole", "GetInstanceProfile"]
        profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        assert profile["Roles"] == [] and tags_of(profile.get("Tags")) == {"team": "other"}, profile
        iam.delete_instance_profile(InstanceProfileName=name)

        # The group's launch template is made right before its Auto Scaling group.
        aws.proxy.on_forwarded = stranger_after(
            "CreateLaunchTemplate", lambda: aws.boto3("autoscaling", via_proxy=True).create_auto_scaling_group(
                AutoScalingGroupName=asg, LaunchTemplate={"LaunchTemplateName": "theirs"},
                MinSize=0, MaxSize=0, DesiredCapacity=0, VPCZoneIdentifier=subnet["SubnetId"],
                Tags=[{"Key": "team", "Value": "other", "PropagateAtLaunch": False}]), status=200)
        refused(tf.apply(check=False), asg)
        assert made == ["GetRole", "GetInstanceProfile", "CreateLaunchTemplate"]
        creates = [c.status for c in aws.calls("autoscaling") if c.action == "CreateAutoScalingGroup"]
        assert creates[-1] >= 400, f"the create did not meet the group unseen: {creates}"
        g = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg])["AutoScalingGroups"][0]
        assert tags_of(g["Tags"]) == {"team": "other"}, g["Tags"]
        assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]) == (0, 0, 0), g
        assert g["LaunchTemplate"]["LaunchTemplateName"] == "theirs", g
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName=asg, ForceDelete=True)
    finally:
        aws.proxy.on_forwarded = None
        aws.proxy.set_strict(old)
    tf.apply()
    role = iam.get_role(RoleName=name)["Role"]
    assert tags_of(role.get("Tags")).get("datomic:group") == "qg", role
    profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [name], profile
    tf.destroy()
    ec2.delete_launch_template(LaunchTemplateName="theirs")
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("late--")]
    assert not [p for p in iam.list_instance_profiles()["InstanceProfiles"]
                if p["InstanceProfileName"].startswith("late--")]
    assert not [g for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
                if g["AutoScalingGroupName"].startswith("late--")]


@pytest.mark.aws
@pytest.mark.timeout(900)
def test_security_group_made_a_moment_ago_is_read_once_ec2_lists_it(tf: Terraform, aws: Emulator) -> None:
    """EC2's describes lag its writes, by filter too: a security group of our name made a
    moment before our create (by a create whose answer was lost, or by someone else) is
    not listed, and our CreateSecurityGroup answers InvalidGroup.Duplicate. The group is
    read once EC2 lists it: a stranger's is refused by name and left alone. Once the name
    is free, the system gets its own."""
    ec2 = aws.boto3("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.61.{i}.0/24", AvailabilityZone=z)["Subnet"]["SubnetId"]
               for i, z in enumerate(("us-east-1a", "us-east-1b"))]
    name = "datomic-lag-nodes"  # the nodes' group
    body = f'  vpc_id     = "{vpc}"\n  subnet_ids = [' + ", ".join(f'"{s}"' for s in subnets) + "]\n"
    tf.write(provider_hcl() + system_hcl("lag", body=body))

    def group(tags: dict[str, str]) -> str:
        # Made through the proxy, so that EC2's describes lag as AWS's do.
        return aws.boto3("ec2", via_proxy=True).create_security_group(
            GroupName=name, Description="a group", VpcId=vpc, TagSpecifications=[{
                "ResourceType": "security-group", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
        )["GroupId"]

    old = aws.proxy.set_strict(dataclasses.replace(aws.proxy.strict.config, consistency_window=20.0,
                                                   filtered_lag=True))
    made: list[str] = []

    mount_targets: list[bool] = []

    def stranger_after_the_storage(call: Any, answer: Any) -> None:
        # Someone makes the group right after the provider's look-up for it (the first
        # describe that finds no group once the storage's mount targets are made).
        if call.action.startswith("POST /2015-02-01/mount-targets"):
            mount_targets.append(True)
        elif mount_targets and not made and call.action == "DescribeSecurityGroups" \
                and b"<groupId>" not in answer[2]:
            made.append(group({"team": "other"}))

    try:
        aws.proxy.on_forwarded = stranger_after_the_storage
        res = tf.apply(check=False)
        aws.proxy.on_forwarded = None
        assert made, res.describe()
        theirs = made[0]
        refused(res, name)
        g = ec2.describe_security_groups(GroupIds=[theirs])["SecurityGroups"][0]
        assert tags_of(g.get("Tags")) == {"team": "other"} and g["IpPermissions"] == [], g
        ec2.delete_security_group(GroupId=theirs)
        tf.apply()
    finally:
        aws.proxy.on_forwarded = None
        aws.proxy.set_strict(old)
    dups = [c.status for c in aws.calls("ec2") if c.action == "CreateSecurityGroup"]
    assert 400 in dups, f"the create did not meet the stranger's group unseen: {dups}"
    state = {r["address"]: r["values"] for r in tf.show_json()["values"]["root_module"]["resources"]}
    ours = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    assert [g["GroupId"] for g in ours] == [state["datomic_system.main"]["security_group_id"]], ours
    tf.destroy()
    assert [g["GroupName"] for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]] == ["default"]
    for s in subnets:
        ec2.delete_subnet(SubnetId=s)
    ec2.delete_vpc(VpcId=vpc)


def default_document(iam: Any, arn: str) -> dict:
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]
    return doc if isinstance(doc, dict) else json.loads(doc)


@pytest.mark.aws
@pytest.mark.timeout(900)
def test_boundary_document_changed_by_hand_is_drift_that_apply_puts_back(tf: Terraform, aws: Emulator) -> None:
    """The boundary's document changed out of band (a new default version that allows
    IAM writes) shows in the next plan, on every node role it bounds; apply puts ours
    back as the default version, the plan after it is empty. Three query groups made
    at once on a system whose boundary drifted repair it once between them, within
    IAM's five versions, and tag it as the system's, never as one group's."""
    iam = aws.boto3("iam", via_proxy=False)
    arn = f"arn:aws:iam::{ACCOUNT}:policy/datomic/drift--node-boundary"
    tf.write(provider_hcl() + system_hcl("drift", "production"))
    tf.apply()
    ours = default_document(iam, arn)
    widened = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

    def widen() -> None:
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        if len(versions) >= 5:
            oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
            iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(widened), SetAsDefault=True)

    widen()
    plan = tf.plan_json()
    change = next(rc["change"] for rc in plan["resource_changes"] if rc["address"] == "datomic_system.main")
    assert change["actions"] == ["update"], change
    tf.apply()
    assert default_document(iam, arn) == ours
    res = tf.plan("-detailed-exitcode")
    assert res.rc == 0, res.describe()

    # Drifted again (five versions), then three query groups made at once: each finds
    # the document changed and repairs it; none fails on IAM's five versions or on a
    # version another one deleted.
    for _ in range(4):
        widen()
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 5
    groups = "".join(f"""
resource "datomic_query_group" "q{i}" {{
  system           = datomic_system.main.name
  name             = "q{i}"
  application_name = "app{i}"
}}
""" for i in range(3))
    tf.write(provider_hcl() + system_hcl("drift", "production") + groups)
    # Without a refresh the system is not updated first: the three groups race.
    before = len(aws.writes("iam"))
    tf.apply("-refresh=false")
    made = [(c.status, c.fault) for c in aws.writes("iam")[before:] if c.action == "CreatePolicyVersion"]
    assert any(status == 200 for status, _ in made), made
    assert default_document(iam, arn) == ours
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) <= 5
    ptags = tags_of(iam.list_policy_tags(PolicyArn=arn)["Tags"])
    assert ptags.get("datomic:system") == "drift", ptags
    assert "datomic:group" not in ptags and "datomic:application" not in ptags, ptags
    res = tf.plan("-detailed-exitcode")
    assert res.rc == 0, res.describe()
    tf.destroy()
    assert not [p for p in iam.list_policies(Scope="Local")["Policies"] if p["Arn"] == arn]
