"""Tests of the strict AWS layer of the proxy (strict_aws.py): for each rule, moto alone
(its direct URL) lets the mistake through, and the proxy answers as AWS does."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
from typing import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness import REGION, Emulator
from strict_aws import Strict, top_members

# Test-sized durations, short enough to wait out in a test.
FAST = Strict(eni_linger=2.0, consistency_window=1.5, profile_window=2.0)
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
POLICY_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'


@pytest.fixture
def strict(aws: Emulator) -> Iterator[Emulator]:
    old = aws.proxy.set_strict(FAST)
    try:
        yield aws
    finally:
        aws.proxy.set_strict(old)


def client(em: Emulator, service: str, proxied: bool) -> object:
    import boto3

    return boto3.client(
        service, endpoint_url=em.url if proxied else em.direct_url, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def code_of(f) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as e:
        f()
    return e.value.response["Error"]["Code"]


def network(ec2, cidr: str = "10.7.0.0/16") -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr.replace("0.0/16", "1.0/24"),
                               AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"g-{cidr}", Description="x", VpcId=vpc)["GroupId"]
    return vpc, subnet, sg


def instance(ec2, subnet: str, sg: str, image: str | None = None) -> str:  # type: ignore[no-untyped-def]
    image = image or ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.small",
                             SubnetId=subnet, SecurityGroupIds=[sg])["Instances"][0]["InstanceId"]


def test_strict_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATOMIC_STRICT", "0")
    assert not Strict.from_env(default=True).any
    monkeypatch.setenv("DATOMIC_STRICT", "1")
    assert Strict.from_env(default=False) == Strict()
    monkeypatch.delenv("DATOMIC_STRICT")
    assert Strict.from_env(default=True).any and not Strict.from_env(default=False).any


def test_top_members_skip_nested_members() -> None:
    xml = ("<R><AutoScalingGroups><member><AutoScalingGroupName>a</AutoScalingGroupName>"
           "<Instances><member><InstanceId>i-1</InstanceId></member></Instances></member>"
           "<member><AutoScalingGroupName>b</AutoScalingGroupName></member></AutoScalingGroups></R>")
    spans = top_members(xml, "AutoScalingGroups")
    assert [xml[s:e].count("<AutoScalingGroupName>") for s, e in spans] == [1, 1]
    assert "i-1" in xml[spans[0][0]:spans[0][1]]


# --- dependencies ---------------------------------------------------------------------


def test_security_group_and_subnet_in_use_by_an_instance(strict: Emulator) -> None:
    direct, proxied = client(strict, "ec2", False), client(strict, "ec2", True)
    # moto alone deletes a security group and a subnet still in use
    _, subnet0, sg0 = network(direct, "10.6.0.0/16")
    instance(direct, subnet0, sg0)
    direct.delete_security_group(GroupId=sg0)
    direct.delete_subnet(SubnetId=subnet0)
    # through the strict layer: DependencyViolation while the instance runs ...
    vpc, subnet, sg = network(direct)
    iid = instance(direct, subnet, sg)
    assert code_of(lambda: proxied.delete_security_group(GroupId=sg)) == "DependencyViolation"
    assert code_of(lambda: proxied.delete_subnet(SubnetId=subnet)) == "DependencyViolation"
    assert code_of(lambda: proxied.delete_vpc(VpcId=vpc)) == "DependencyViolation"
    # ... and for a while after it is terminated (its network interface lingers)
    proxied.terminate_instances(InstanceIds=[iid])
    assert code_of(lambda: proxied.delete_security_group(GroupId=sg)) == "DependencyViolation"
    assert code_of(lambda: proxied.delete_subnet(SubnetId=subnet)) == "DependencyViolation"
    time.sleep(FAST.eni_linger + 0.2)
    proxied.delete_security_group(GroupId=sg)
    proxied.delete_subnet(SubnetId=subnet)
    proxied.delete_vpc(VpcId=vpc)
    refused = [c for c in strict.calls() if c.fault == "strict:dependencies"]
    assert len(refused) == 5 and all(c.status == 400 for c in refused)


def test_subnet_of_a_load_balancer_lingers_after_its_deletion(strict: Emulator) -> None:
    direct, proxied = client(strict, "ec2", False), client(strict, "ec2", True)
    elb_direct, elb = client(strict, "elbv2", False), client(strict, "elbv2", True)
    _, subnet0, _ = network(direct, "10.6.0.0/16")
    elb_direct.create_load_balancer(Name="lb0", Subnets=[subnet0], Type="network", Scheme="internal")
    direct.delete_subnet(SubnetId=subnet0)  # moto: fine
    _, subnet, _ = network(direct)
    arn = elb_direct.create_load_balancer(Name="lb1", Subnets=[subnet], Type="network",
                                          Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    assert code_of(lambda: proxied.delete_subnet(SubnetId=subnet)) == "DependencyViolation"
    elb.delete_load_balancer(LoadBalancerArn=arn)
    assert code_of(lambda: proxied.delete_subnet(SubnetId=subnet)) == "DependencyViolation"
    time.sleep(FAST.eni_linger + 0.2)
    proxied.delete_subnet(SubnetId=subnet)


def test_network_lb_subnets_only_grow_and_mount_targets_hold_their_group(strict: Emulator) -> None:
    """AWS lets a Network Load Balancer gain subnets but never lose one, and keeps a
    security group or subnet while an EFS mount target's network interface is in it;
    moto allows both."""
    direct, proxied = client(strict, "ec2", False), client(strict, "ec2", True)
    elb_direct, elb = client(strict, "elbv2", False), client(strict, "elbv2", True)
    efs = client(strict, "efs", True)
    vpc, subnet, sg = network(direct)
    other = direct.create_subnet(VpcId=vpc, CidrBlock="10.7.2.0/24",
                                 AvailabilityZone=f"{REGION}b")["Subnet"]["SubnetId"]
    arn = elb_direct.create_load_balancer(Name="grow", Subnets=[subnet], Type="network",
                                          Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    elb.set_subnets(LoadBalancerArn=arn, Subnets=[subnet, other])
    assert code_of(lambda: elb.set_subnets(LoadBalancerArn=arn, Subnets=[other])) == "ValidationError"
    fs = efs.create_file_system(CreationToken="strict")["FileSystemId"]
    mt = efs.create_mount_target(FileSystemId=fs, SubnetId=other, SecurityGroups=[sg])["MountTargetId"]
    assert code_of(lambda: proxied.delete_security_group(GroupId=sg)) == "DependencyViolation"
    assert code_of(lambda: efs.delete_file_system(FileSystemId=fs)) == "FileSystemInUse"
    efs.delete_mount_target(MountTargetId=mt)
    efs.delete_file_system(FileSystemId=fs)
    proxied.delete_security_group(GroupId=sg)


def test_security_group_of_a_load_balancer_or_named_by_a_rule(strict: Emulator) -> None:
    """AWS keeps a security group while a load balancer has it (and its network
    interfaces linger after), or another group's rule names it; moto deletes it."""
    direct, proxied = client(strict, "ec2", False), client(strict, "ec2", True)
    elb_direct, elb = client(strict, "elbv2", False), client(strict, "elbv2", True)
    vpc, subnet, _ = network(direct)
    lb_sg = direct.create_security_group(GroupName="lb", Description="x", VpcId=vpc)["GroupId"]
    nodes = direct.create_security_group(GroupName="nodes", Description="x", VpcId=vpc)["GroupId"]
    rule = [{"IpProtocol": "tcp", "FromPort": 8182, "ToPort": 8182, "UserIdGroupPairs": [{"GroupId": lb_sg}]}]
    direct.authorize_security_group_ingress(GroupId=nodes, IpPermissions=rule)
    arn = elb_direct.create_load_balancer(Name="lb1", Subnets=[subnet], Type="network", Scheme="internal",
                                          SecurityGroups=[lb_sg])["LoadBalancers"][0]["LoadBalancerArn"]
    assert code_of(lambda: proxied.delete_security_group(GroupId=lb_sg)) == "DependencyViolation"
    elb.delete_load_balancer(LoadBalancerArn=arn)
    time.sleep(FAST.eni_linger + 0.2)
    # the load balancer and its interfaces are gone; the nodes' rule still names the group
    assert code_of(lambda: proxied.delete_security_group(GroupId=lb_sg)) == "DependencyViolation"
    proxied.revoke_security_group_ingress(GroupId=nodes, IpPermissions=rule)
    proxied.delete_security_group(GroupId=lb_sg)
    # a group naming itself is no obstacle
    direct.authorize_security_group_ingress(GroupId=nodes, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8182, "ToPort": 8182, "UserIdGroupPairs": [{"GroupId": nodes}]}])
    proxied.delete_security_group(GroupId=nodes)


def test_network_load_balancer_made_without_groups_never_gets_any(strict: Emulator) -> None:
    direct = client(strict, "ec2", False)
    elb_direct, elb = client(strict, "elbv2", False), client(strict, "elbv2", True)
    vpc, subnet, sg = network(direct)
    bare = elb_direct.create_load_balancer(Name="bare", Subnets=[subnet], Type="network",
                                           Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    elb_direct.set_security_groups(LoadBalancerArn=bare, SecurityGroups=[sg])  # moto: fine
    bare2 = elb_direct.create_load_balancer(Name="bare2", Subnets=[subnet], Type="network",
                                            Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    assert code_of(lambda: elb.set_security_groups(LoadBalancerArn=bare2, SecurityGroups=[sg])) == \
        "InvalidConfigurationRequest"
    other = direct.create_security_group(GroupName="other", Description="x", VpcId=vpc)["GroupId"]
    with_groups = elb_direct.create_load_balancer(Name="grouped", Subnets=[subnet], Type="network",
                                                  Scheme="internal", SecurityGroups=[sg])
    elb.set_security_groups(LoadBalancerArn=with_groups["LoadBalancers"][0]["LoadBalancerArn"],
                            SecurityGroups=[other])


def test_vpc_with_a_security_group_left(strict: Emulator) -> None:
    direct, proxied = client(strict, "ec2", False), client(strict, "ec2", True)
    vpc0 = direct.create_vpc(CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
    direct.create_security_group(GroupName="left", Description="x", VpcId=vpc0)
    direct.delete_vpc(VpcId=vpc0)  # moto: fine
    vpc = direct.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    sg = direct.create_security_group(GroupName="left", Description="x", VpcId=vpc)["GroupId"]
    assert code_of(lambda: proxied.delete_vpc(VpcId=vpc)) == "DependencyViolation"
    proxied.delete_security_group(GroupId=sg)
    proxied.delete_vpc(VpcId=vpc)


def test_instances_of_a_deleted_auto_scaling_group_linger(strict: Emulator) -> None:
    direct, asg = client(strict, "ec2", False), client(strict, "autoscaling", True)
    proxied = client(strict, "ec2", True)
    _, subnet, sg = network(direct)
    image = direct.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    direct.create_launch_template(LaunchTemplateName="tmpl", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t2.small", "SecurityGroupIds": [sg]})
    client(strict, "autoscaling", False).create_auto_scaling_group(
        AutoScalingGroupName="g", MinSize=1, MaxSize=1, DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateName": "tmpl"}, VPCZoneIdentifier=subnet)
    asg.delete_auto_scaling_group(AutoScalingGroupName="g", ForceDelete=True)
    assert code_of(lambda: proxied.delete_security_group(GroupId=sg)) == "DependencyViolation"
    time.sleep(FAST.eni_linger + 0.2)
    proxied.delete_security_group(GroupId=sg)


def test_iam_and_s3_dependencies_are_moto_s_own(strict: Emulator) -> None:
    """DeleteRole with a policy or profile attached and DeleteBucket of a non-empty bucket
    are refused by moto already (the layer adds nothing): kept true by this test."""
    iam = client(strict, "iam", False)
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=POLICY)
    iam.put_role_policy(RoleName="r", PolicyName="p", PolicyDocument=POLICY.replace(
        '"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"', '"Action":"s3:*","Resource":"*"'))
    assert code_of(lambda: iam.delete_role(RoleName="r")) == "DeleteConflict"
    iam.delete_role_policy(RoleName="r", PolicyName="p")
    iam.create_instance_profile(InstanceProfileName="ip")
    iam.add_role_to_instance_profile(InstanceProfileName="ip", RoleName="r")
    assert code_of(lambda: iam.delete_role(RoleName="r")) == "DeleteConflict"
    s3 = client(strict, "s3", False)
    s3.create_bucket(Bucket="strict-bucket")
    s3.put_object(Bucket="strict-bucket", Key="k", Body=b"x")
    assert code_of(lambda: s3.delete_bucket(Bucket="strict-bucket")) == "BucketNotEmpty"


# --- eventual consistency -------------------------------------------------------------


def test_new_ec2_objects_are_not_found_at_first(strict: Emulator) -> None:
    direct, proxied = client(strict, "ec2", False), client(strict, "ec2", True)
    image = direct.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    vpc = proxied.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = proxied.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    sg = proxied.create_security_group(GroupName="new", Description="x", VpcId=vpc)["GroupId"]
    proxied.create_launch_template(LaunchTemplateName="new-lt",
                                   LaunchTemplateData={"ImageId": image, "InstanceType": "t2.small"})
    reads = [
        (lambda c: c.describe_vpcs(VpcIds=[vpc]), "InvalidVpcID.NotFound"),
        (lambda c: c.describe_subnets(SubnetIds=[subnet]), "InvalidSubnetID.NotFound"),
        (lambda c: c.describe_security_groups(GroupIds=[sg]), "InvalidGroup.NotFound"),
        (lambda c: c.describe_launch_templates(LaunchTemplateNames=["new-lt"]),
         "InvalidLaunchTemplateName.NotFoundException"),
        (lambda c: c.describe_launch_template_versions(LaunchTemplateName="new-lt"),
         "InvalidLaunchTemplateName.NotFoundException"),
    ]
    for read, code in reads:
        read(direct)  # moto: there at once
        assert code_of(lambda: read(proxied)) == code
    time.sleep(FAST.consistency_window + 0.1)
    for read, _ in reads:
        read(proxied)


def test_with_filtered_lag_a_new_security_group_is_not_listed_at_first(strict: Emulator) -> None:
    strict.proxy.set_strict(dataclasses.replace(FAST, filtered_lag=True))
    direct, proxied = client(strict, "ec2", False), client(strict, "ec2", True)
    vpc = direct.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    sg = proxied.create_security_group(GroupName="lagging", Description="x", VpcId=vpc)["GroupId"]
    by_name = [{"Name": "group-name", "Values": ["lagging"]}, {"Name": "vpc-id", "Values": [vpc]}]
    assert [g["GroupId"] for g in direct.describe_security_groups(Filters=by_name)["SecurityGroups"]] == [sg]
    assert proxied.describe_security_groups(Filters=by_name)["SecurityGroups"] == []
    assert code_of(lambda: proxied.create_security_group(
        GroupName="lagging", Description="x", VpcId=vpc)) == "InvalidGroup.Duplicate"
    time.sleep(FAST.consistency_window + 0.1)
    assert [g["GroupId"] for g in proxied.describe_security_groups(Filters=by_name)["SecurityGroups"]] == [sg]


def test_new_iam_objects_groups_and_log_groups_are_not_found_at_first(strict: Emulator) -> None:
    iam, iam_direct = client(strict, "iam", True), client(strict, "iam", False)
    iam.create_role(RoleName="new-role", AssumeRolePolicyDocument=POLICY)
    iam.create_instance_profile(InstanceProfileName="new-profile")
    iam_direct.get_role(RoleName="new-role")
    assert code_of(lambda: iam.get_role(RoleName="new-role")) == "NoSuchEntity"
    assert code_of(lambda: iam.get_instance_profile(InstanceProfileName="new-profile")) == "NoSuchEntity"
    policy = iam.create_policy(PolicyName="new-policy", PolicyDocument=POLICY_DOCUMENT)["Policy"]["Arn"]
    iam_direct.get_policy(PolicyArn=policy)
    assert code_of(lambda: iam.get_policy(PolicyArn=policy)) == "NoSuchEntity"
    assert code_of(lambda: iam.list_policy_tags(PolicyArn=policy)) == "NoSuchEntity"

    direct, asg, asg_direct = client(strict, "ec2", False), client(strict, "autoscaling", True), \
        client(strict, "autoscaling", False)
    _, subnet, sg = network(direct)
    image = direct.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    direct.create_launch_template(LaunchTemplateName="tmpl", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t2.small", "SecurityGroupIds": [sg]})
    asg.create_auto_scaling_group(AutoScalingGroupName="new-group", MinSize=1, MaxSize=1,
                                  LaunchTemplate={"LaunchTemplateName": "tmpl"}, VPCZoneIdentifier=subnet)
    assert len(asg_direct.describe_auto_scaling_groups(AutoScalingGroupNames=["new-group"])["AutoScalingGroups"]) == 1
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=["new-group"])["AutoScalingGroups"] == []
    logs, logs_direct = client(strict, "logs", True), client(strict, "logs", False)
    logs.create_log_group(logGroupName="new-log-group")
    assert [g["logGroupName"] for g in logs_direct.describe_log_groups(
        logGroupNamePrefix="new-log-group")["logGroups"]] == ["new-log-group"]
    assert logs.describe_log_groups(logGroupNamePrefix="new-log-group")["logGroups"] == []
    time.sleep(FAST.consistency_window + 0.1)
    assert [g["logGroupName"] for g in logs.describe_log_groups(
        logGroupNamePrefix="new-log-group")["logGroups"]] == ["new-log-group"]
    iam.get_role(RoleName="new-role")
    iam.get_instance_profile(InstanceProfileName="new-profile")
    iam.get_policy(PolicyArn=policy)
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["new-group"])["AutoScalingGroups"]
    assert [g["AutoScalingGroupName"] for g in groups] == ["new-group"]
    assert len(groups[0]["Instances"]) == 1


def test_new_instance_profile_is_refused_by_ec2_and_auto_scaling_at_first(strict: Emulator) -> None:
    direct, proxied = client(strict, "ec2", False), client(strict, "ec2", True)
    _, subnet, sg = network(direct)
    image = direct.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    iam = client(strict, "iam", True)
    iam.create_role(RoleName="node", AssumeRolePolicyDocument=POLICY)
    iam.create_instance_profile(InstanceProfileName="node-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="node-profile", RoleName="node")
    direct.create_launch_template(LaunchTemplateName="tmpl", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t2.small", "SecurityGroupIds": [sg],
        "IamInstanceProfile": {"Name": "node-profile"}})
    group = dict(MinSize=1, MaxSize=1, LaunchTemplate={"LaunchTemplateName": "tmpl", "Version": "$Latest"},
                 VPCZoneIdentifier=subnet)
    client(strict, "autoscaling", False).create_auto_scaling_group(AutoScalingGroupName="moto", **group)
    asg = client(strict, "autoscaling", True)
    assert code_of(lambda: asg.create_auto_scaling_group(AutoScalingGroupName="g", **group)) == "ValidationError"
    run = dict(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.small", SubnetId=subnet,
               IamInstanceProfile={"Name": "node-profile"})
    direct.run_instances(**run)
    assert code_of(lambda: proxied.run_instances(**run)) == "InvalidParameterValue"
    time.sleep(FAST.profile_window + 0.1)
    asg.create_auto_scaling_group(AutoScalingGroupName="g", **group)
    proxied.run_instances(**run)
    assert {c.action for c in strict.calls() if c.fault == "strict:consistency"} == {
        "CreateAutoScalingGroup", "RunInstances"}


def test_new_managed_policy_is_refused_as_a_boundary_at_first(strict: Emulator) -> None:
    """IAM needs a few seconds before a new managed policy can be a role's permissions
    boundary or attached policy; moto takes it at once."""
    boundary = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    iam, iam_direct = client(strict, "iam", True), client(strict, "iam", False)
    arn = iam.create_policy(PolicyName="new-boundary", PolicyDocument=boundary)["Policy"]["Arn"]
    iam_direct.create_role(RoleName="moto-role", AssumeRolePolicyDocument=POLICY, PermissionsBoundary=arn)
    iam_direct.put_role_permissions_boundary(RoleName="moto-role", PermissionsBoundary=arn)
    iam_direct.attach_role_policy(RoleName="moto-role", PolicyArn=arn)
    iam_direct.create_role(RoleName="plain-role", AssumeRolePolicyDocument=POLICY)
    assert code_of(lambda: iam.create_role(RoleName="new-role", AssumeRolePolicyDocument=POLICY,
                                           PermissionsBoundary=arn)) == "NoSuchEntity"
    assert code_of(lambda: iam.put_role_permissions_boundary(RoleName="plain-role",
                                                             PermissionsBoundary=arn)) == "NoSuchEntity"
    assert code_of(lambda: iam.attach_role_policy(RoleName="plain-role", PolicyArn=arn)) == "NoSuchEntity"
    refused = [c for c in strict.calls() if c.fault == "strict:policy_propagation"]
    assert [c.action for c in refused] == ["CreateRole", "PutRolePermissionsBoundary", "AttachRolePolicy"]
    assert all(c.status == 404 for c in refused)
    time.sleep(FAST.consistency_window + 0.1)
    iam.create_role(RoleName="new-role", AssumeRolePolicyDocument=POLICY, PermissionsBoundary=arn)
    iam.put_role_permissions_boundary(RoleName="plain-role", PermissionsBoundary=arn)
    iam.attach_role_policy(RoleName="plain-role", PolicyArn=arn)
    # the rule is a switch of its own
    old = strict.proxy.set_strict(dataclasses.replace(FAST, policy_propagation=False))
    try:
        other = iam.create_policy(PolicyName="other-boundary", PolicyDocument=boundary)["Policy"]["Arn"]
        iam.create_role(RoleName="other-role", AssumeRolePolicyDocument=POLICY, PermissionsBoundary=other)
    finally:
        strict.proxy.set_strict(old)


def test_codedeploy_as_aws(strict: Emulator) -> None:
    """CodeDeploy cannot assume a role made a moment ago (InvalidRoleException), and runs
    one deployment per deployment group at a time (DeploymentLimitExceededException);
    moto takes both. The emulator's deployments advance (Created -> InProgress ->
    Succeeded), fail when their zip is missing (REVISION_MISSING) or their key holds
    `emulator-fail` (HEALTH_CONSTRAINTS, a failed ValidateService), and roll back to the
    last successful revision (scripts/emulator_codedeploy.py)."""
    trust = POLICY.replace("ec2.amazonaws.com", "codedeploy.amazonaws.com")
    iam, cd, s3 = client(strict, "iam", True), client(strict, "codedeploy", True), client(strict, "s3", False)
    role = iam.create_role(RoleName="cd-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    cd.create_application(applicationName="app", computePlatform="Server")
    group = dict(applicationName="app", deploymentGroupName="g", serviceRoleArn=role,
                 deploymentConfigName="CodeDeployDefault.OneAtATime",
                 autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]})
    assert code_of(lambda: cd.create_deployment_group(**group)) == "InvalidRoleException"
    time.sleep(FAST.profile_window + 0.1)
    cd.create_deployment_group(**group)
    s3.create_bucket(Bucket="code-bucket")

    def deploy(key: str) -> dict:
        s3.put_object(Bucket="code-bucket", Key=key, Body=b"zip") if "missing" not in key else None
        rev = {"revisionType": "S3", "s3Location": {"bucket": "code-bucket", "key": key, "bundleType": "zip"}}
        d = cd.create_deployment(applicationName="app", deploymentGroupName="g", revision=rev)["deploymentId"]
        assert code_of(lambda: cd.create_deployment(applicationName="app", deploymentGroupName="g",
                                                    revision=rev)) == "DeploymentLimitExceededException"
        seen = []
        for _ in range(40):
            info = cd.get_deployment(deploymentId=d)["deploymentInfo"]
            seen.append(info["status"])
            if info["status"] in ("Succeeded", "Failed"):
                return {**info, "seen": seen}
            time.sleep(0.25)
        raise AssertionError(f"deployment {d} never ended: {seen}")

    ok = deploy("a/r1.zip")
    assert ok["status"] == "Succeeded" and "InProgress" in ok["seen"], ok["seen"]
    failed = deploy("a/r2-emulator-fail.zip")
    assert failed["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    back = cd.get_deployment(deploymentId=failed["rollbackInfo"]["rollbackDeploymentId"])["deploymentInfo"]
    assert back["revision"]["s3Location"]["key"] == "a/r1.zip" and back["status"] == "Succeeded"
    last = cd.get_deployment_group(applicationName="app", deploymentGroupName="g")["deploymentGroupInfo"]
    assert last["lastSuccessfulDeployment"]["deploymentId"] == back["deploymentId"]
    assert deploy("a/missing.zip")["errorInformation"]["code"] == "REVISION_MISSING"
    cd.delete_deployment_group(applicationName="app", deploymentGroupName="g")
    cd.delete_application(applicationName="app")
    assert cd.list_applications()["applications"] == []


def test_strict_off_is_moto(aws: Emulator) -> None:
    old = aws.proxy.set_strict(Strict.off())
    try:
        ec2 = client(aws, "ec2", True)
        vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
        ec2.describe_vpcs(VpcIds=[vpc])
        ec2.create_security_group(GroupName="left", Description="x", VpcId=vpc)
        ec2.delete_vpc(VpcId=vpc)
    finally:
        aws.proxy.set_strict(old)


# --- validation against AWS's API models ------------------------------------------------


def unchecked(em: Emulator, service: str, proxied: bool) -> object:
    """A client that sends what it is given (botocore's own checks off), as a buggy
    provider could."""
    import boto3

    return boto3.client(
        service, endpoint_url=em.url if proxied else em.direct_url, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )


INVALID = [
    ("iam", lambda c: c.create_role(RoleName="r" * 65, AssumeRolePolicyDocument=POLICY),
     "ValidationError", "length less than or equal to 64"),
    ("iam", lambda c: c.create_role(RoleName="bad/name", AssumeRolePolicyDocument=POLICY),
     "ValidationError", "regular expression pattern"),
    ("autoscaling", lambda c: c.set_desired_capacity(AutoScalingGroupName="g" * 256, DesiredCapacity=1),
     "ValidationError", "length less than or equal to 255"),
    ("ec2", lambda c: c.describe_security_groups(MaxResults=1), "InvalidParameterValue",
     "greater than or equal to 5"),
    ("ec2", lambda c: c.describe_instance_types(InstanceTypes=["t2.bogus"]), "InvalidParameterValue",
     "enum value set"),
    ("elbv2", lambda c: c.describe_load_balancers(PageSize=401), "ValidationError", "less than or equal to 400"),
    ("dynamodb", lambda c: c.list_tables(Limit=101), "ValidationException", "less than or equal to 100"),
    ("iam", lambda c: c.put_role_policy(RoleName="r", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3 GetObject", "Resource": "*"}]})),
     "MalformedPolicyDocument", "invalid action"),
    ("ssm", lambda c: c.describe_parameters(MaxResults=51), "ValidationException", "less than or equal to 50"),
]


@pytest.mark.parametrize("service,call,code,why", INVALID, ids=[f"{s}-{c}" for s, _, c, _ in INVALID])
def test_requests_aws_refuses_by_its_models(strict: Emulator, service, call, code, why) -> None:
    if service == "iam":
        unchecked(strict, "iam", False).create_role(RoleName="r", AssumeRolePolicyDocument=POLICY)
    with pytest.raises(ClientError) as e:
        call(unchecked(strict, service, True))
    assert e.value.response["Error"]["Code"] == code
    assert why in e.value.response["Error"]["Message"]
    layer = strict.proxy.strict
    assert len(layer.invalid) == 1 and layer.invalid[0][0] == (
        "elasticloadbalancing" if service == "elbv2" else service)
    layer.invalid.clear()  # expected here: the fixture fails a test that sent any
    try:  # moto alone accepts it (or fails for another reason, even with a 500)
        call(unchecked(strict, service, False))
    except ClientError as moto:
        assert why not in moto.response["Error"]["Message"]
    except Exception:  # noqa: BLE001 - e.g. moto's HTML error page
        pass


def test_a_key_deletion_window_under_seven_days_is_refused(strict: Emulator) -> None:
    # The API model allows 1 day, and moto takes it; KMS refuses anything under 7.
    key = client(strict, "kms", False).create_key()["KeyMetadata"]["KeyId"]
    kms = client(strict, "kms", True)
    assert code_of(lambda: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=3)) == "ValidationException"
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"


def test_a_key_policy_naming_a_missing_role_is_refused(strict: Emulator) -> None:
    # KMS checks that a key policy's principals exist; moto takes any.
    role = "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "kms:Decrypt", "Resource": "*"}]})
    kms = client(strict, "kms", True)
    assert code_of(lambda: kms.create_key(Policy=policy)) == "MalformedPolicyDocumentException"
    client(strict, "iam", False).create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")
    assert kms.create_key(Policy=policy)["KeyMetadata"]["KeyState"] == "Enabled"


def test_unknown_ec2_parameters_are_refused(strict: Emulator) -> None:
    import urllib.request

    auth = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, "
            "SignedHeaders=host, Signature=0")
    body = b"Action=DescribeVpcs&Version=2016-11-15&Bogus=1"
    for url, refused in ((strict.direct_url, False), (strict.url, True)):
        req = urllib.request.Request(url + "/", data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Authorization": auth})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                answer = r.read().decode()
        except urllib.error.HTTPError as e:
            answer = e.read().decode()
        assert ("<Code>UnknownParameter</Code>" in answer) == refused, answer
    assert [a for _, a, _ in strict.proxy.strict.invalid] == ["DescribeVpcs"]
    strict.proxy.strict.invalid.clear()


def test_valid_requests_pass_the_models(strict: Emulator) -> None:
    ec2, iam = client(strict, "ec2", True), client(strict, "iam", True)
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "k", "Value": "v"}]}])["Vpc"]["VpcId"]
    ec2.describe_vpcs(Filters=[{"Name": "tag:k", "Values": ["v"]}], MaxResults=5)
    ec2.describe_instance_types(InstanceTypes=["t2.small", "i3.large"])
    iam.create_role(RoleName="node+role=1,x.y@z-", AssumeRolePolicyDocument=POLICY,
                    Tags=[{"Key": "k", "Value": "v"}])
    iam.put_role_policy(RoleName="node+role=1,x.y@z-", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"}]}))
    client(strict, "autoscaling", True).describe_auto_scaling_groups(
        Filters=[{"Name": "tag:k", "Values": ["v"]}], MaxRecords=100)
    client(strict, "elbv2", True).describe_load_balancers(PageSize=400)
    client(strict, "dynamodb", True).create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    client(strict, "s3", True).create_bucket(Bucket="a-valid.bucket-1")
    client(strict, "sts", True).get_caller_identity()
    ec2.delete_vpc(VpcId=vpc)
    assert strict.proxy.strict.invalid == []


# --- time -------------------------------------------------------------------------------


def test_load_balancers_provision_before_they_are_active(strict: Emulator) -> None:
    direct = client(strict, "ec2", False)
    _, subnet, _ = network(direct)
    elb, elb_direct = client(strict, "elbv2", True), client(strict, "elbv2", False)
    arn = elb.create_load_balancer(Name="lb", Subnets=[subnet], Type="network",
                                   Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    state = lambda c: c.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]["State"]["Code"]  # noqa: E731
    assert state(elb_direct) == "active"  # moto: at once
    assert state(elb) == "provisioning"
    time.sleep(FAST.lb_provisioning + 0.1)
    assert state(elb) == "active"


def test_instances_and_group_members_start_pending(strict: Emulator) -> None:
    # longer than FAST: the emulator is slow to launch under load
    slow = dataclasses.replace(FAST, instance_pending=6.0, in_service=6.0)
    strict.proxy.set_strict(slow)
    direct, proxied = client(strict, "ec2", False), client(strict, "ec2", True)
    _, subnet, sg = network(direct)
    image = direct.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    direct.create_launch_template(LaunchTemplateName="tmpl", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t2.small", "SecurityGroupIds": [sg]})
    iid = instance(direct, subnet, sg, image)
    client(strict, "autoscaling", False).create_auto_scaling_group(
        AutoScalingGroupName="g", MinSize=1, MaxSize=1, LaunchTemplate={"LaunchTemplateName": "tmpl"},
        VPCZoneIdentifier=subnet)
    state = lambda c: c.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]  # noqa: E731
    lifecycle = lambda c: [i["LifecycleState"] for i in c.describe_auto_scaling_groups(  # noqa: E731
        AutoScalingGroupNames=["g"])["AutoScalingGroups"][0]["Instances"]]
    asg, asg_direct = client(strict, "autoscaling", True), client(strict, "autoscaling", False)
    assert state(direct) == "running" and lifecycle(asg_direct) == ["InService"]  # moto: at once
    assert state(proxied) == "pending"
    assert lifecycle(asg) == ["Pending"]
    time.sleep(max(slow.instance_pending, slow.in_service) + 1.1)  # launch times are in whole seconds
    assert state(proxied) == "running" and lifecycle(asg) == ["InService"]


def test_a_group_being_deleted_is_reported_until_its_instances_are_gone(strict: Emulator) -> None:
    direct = client(strict, "ec2", False)
    _, subnet, sg = network(direct)
    image = direct.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    direct.create_launch_template(LaunchTemplateName="tmpl", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t2.small", "SecurityGroupIds": [sg]})
    asg, asg_direct = client(strict, "autoscaling", True), client(strict, "autoscaling", False)
    for name in ("moto", "g"):
        asg_direct.create_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=1, MaxSize=1, LaunchTemplate={"LaunchTemplateName": "tmpl"},
            VPCZoneIdentifier=subnet)
    asg_direct.delete_auto_scaling_group(AutoScalingGroupName="moto", ForceDelete=True)
    assert asg_direct.describe_auto_scaling_groups(AutoScalingGroupNames=["moto"])["AutoScalingGroups"] == []
    asg.delete_auto_scaling_group(AutoScalingGroupName="g", ForceDelete=True)
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["g"])["AutoScalingGroups"]
    assert [(g["AutoScalingGroupName"], g.get("Status")) for g in groups] == [("g", "Delete in progress")]
    assert {i["LifecycleState"] for i in groups[0]["Instances"]} == {"Terminating"}
    time.sleep(FAST.group_deleting + 0.1)
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=["g"])["AutoScalingGroups"] == []


def test_tables_are_creating_then_deleting(strict: Emulator) -> None:
    ddb, ddb_direct = client(strict, "dynamodb", True), client(strict, "dynamodb", False)
    spec = dict(BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    ddb_direct.create_table(TableName="moto", **spec)
    assert ddb_direct.describe_table(TableName="moto")["Table"]["TableStatus"] == "ACTIVE"  # moto: at once
    assert ddb.create_table(TableName="tbl", **spec)["TableDescription"]["TableStatus"] == "CREATING"
    assert ddb.describe_table(TableName="tbl")["Table"]["TableStatus"] == "CREATING"
    time.sleep(FAST.table_status + 0.1)
    assert ddb.describe_table(TableName="tbl")["Table"]["TableStatus"] == "ACTIVE"
    assert ddb.delete_table(TableName="tbl")["TableDescription"]["TableStatus"] == "DELETING"
    assert ddb.describe_table(TableName="tbl")["Table"]["TableStatus"] == "DELETING"
    time.sleep(FAST.table_status + 0.1)
    assert code_of(lambda: ddb.describe_table(TableName="tbl")) == "ResourceNotFoundException"


# --- the provider against the strict layer ----------------------------------------------


@pytest.mark.aws
def test_destroy_converges_in_one_run_and_names_what_blocks_it(tf, aws: Emulator) -> None:  # type: ignore[no-untyped-def]
    """A destroy with `retain_storage = false` converges in one run through the strict
    layer (network interfaces lingering after the nodes and the load balancer); one that
    something foreign still depends on fails at its delete timeout naming the object and
    the network interface in the way."""
    from harness import provider_hcl

    config = provider_hcl() + '''
resource "datomic_system" "main" {
  name           = "blocked"
  topology       = "solo"
  retain_storage = false
  timeouts {
    delete = "25s"
  }
}
'''
    tf.write(config)
    tf.apply()
    ec2 = aws.boto3("ec2")
    sg = ec2.describe_security_groups(Filters=[{"Name": "tag:datomic:system", "Values": ["blocked"]}])
    sg_id = sg["SecurityGroups"][0]["GroupId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [sg["SecurityGroups"][0]["VpcId"]]}])
    foreign = instance(ec2, subnet["Subnets"][0]["SubnetId"], sg_id)
    res = tf.destroy(check=False)
    assert not res.ok
    err = " ".join(res.stderr.split())  # Terraform wraps long lines
    assert f"security group {sg_id}" in err, res.stderr
    assert "network interface eni-" in err, res.stderr
    ec2.terminate_instances(InstanceIds=[foreign])
    tf.destroy()  # the foreign instance gone: one more run, and nothing is left
    assert ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [sg_id]}])["SecurityGroups"] == []
    assert aws.proxy.strict.totals.get("dependencies", 0) > 0


def test_a_cname_shares_its_name_with_no_other_record(strict: Emulator) -> None:
    """Route53 refuses a CNAME beside another record of its name, and the reverse (moto
    stores both); a DELETE in the same batch frees the name."""
    ec2, direct, proxied = client(strict, "ec2", False), client(strict, "route53", False), client(strict, "route53", True)
    vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    zone = direct.create_hosted_zone(Name="s.us-east-1.datomic.net", CallerReference="strict-cname",
                                      HostedZoneConfig={"PrivateZone": True},
                                      VPC={"VPCRegion": REGION, "VPCId": vpc})["HostedZone"]["Id"]

    def change(c, action: str, name: str, rtype: str, value: str) -> None:  # type: ignore[no-untyped-def]
        c.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
            {"Action": action, "ResourceRecordSet": {"Name": name, "Type": rtype, "TTL": 60,
                                                     "ResourceRecords": [{"Value": value}]}}]})

    change(direct, "CREATE", "a.s.us-east-1.datomic.net", "A", "10.5.0.1")
    change(direct, "UPSERT", "a.s.us-east-1.datomic.net", "CNAME", "lb.example")  # moto: fine
    change(direct, "CREATE", "entry.s.us-east-1.datomic.net", "A", "10.5.0.2")
    assert code_of(lambda: change(proxied, "UPSERT", "Entry.s.us-east-1.datomic.net.", "CNAME", "lb.example")) \
        == "InvalidChangeBatch"
    change(proxied, "UPSERT", "web.s.us-east-1.datomic.net", "CNAME", "lb.example")
    assert code_of(lambda: change(proxied, "CREATE", "web.s.us-east-1.datomic.net", "A", "10.5.0.3")) \
        == "InvalidChangeBatch"
    # Replacing the A record by a CNAME in one batch is fine.
    proxied.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "DELETE", "ResourceRecordSet": {"Name": "entry.s.us-east-1.datomic.net", "Type": "A", "TTL": 60,
                                                   "ResourceRecords": [{"Value": "10.5.0.2"}]}},
        {"Action": "CREATE", "ResourceRecordSet": {"Name": "entry.s.us-east-1.datomic.net", "Type": "CNAME",
                                                   "TTL": 60, "ResourceRecords": [{"Value": "lb.example"}]}}]})
    refused = [c for c in strict.calls() if c.fault == "strict:route53"]
    assert len(refused) == 2 and all(c.status == 400 for c in refused)


def test_a_caller_reference_makes_one_zone(strict: Emulator) -> None:
    """Route53 refuses a second CreateHostedZone with a caller reference used before (the
    retry of a create whose answer was lost); moto makes a second zone."""
    ec2, direct, proxied = client(strict, "ec2", False), client(strict, "route53", False), client(strict, "route53", True)
    vpc = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]

    def create(c, ref: str) -> None:  # type: ignore[no-untyped-def]
        c.create_hosted_zone(Name="r.us-east-1.datomic.net", CallerReference=ref,
                             HostedZoneConfig={"PrivateZone": True}, VPC={"VPCRegion": REGION, "VPCId": vpc})

    create(direct, "moto-ref")
    create(direct, "moto-ref")  # moto: a second zone
    create(proxied, "datomic:r:1")
    assert code_of(lambda: create(proxied, "datomic:r:1")) == "HostedZoneAlreadyExists"
    create(proxied, "datomic:r:2")  # another reference: another zone, as AWS does


def test_an_object_whose_bytes_are_not_its_checksum_is_refused(strict: Emulator) -> None:
    # S3 checks x-amz-checksum-sha256 against the bytes it receives; moto stores any value.
    import base64
    import hashlib

    s3 = client(strict, "s3", True)
    s3.create_bucket(Bucket="checksums")
    body = b"the revision"
    wrong = base64.b64encode(hashlib.sha256(b"another").digest()).decode()
    right = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert code_of(lambda: s3.put_object(Bucket="checksums", Key="a.zip", Body=body, ChecksumSHA256=wrong)) == "BadDigest"
    assert code_of(lambda: s3.head_object(Bucket="checksums", Key="a.zip")) in ("404", "NoSuchKey")
    s3.put_object(Bucket="checksums", Key="a.zip", Body=body, ChecksumSHA256=right)
    assert s3.get_object(Bucket="checksums", Key="a.zip")["Body"].read() == body
