"""Each load balancer's own security group (issue 17, network backstops), end to end with
the real terraform CLI against the emulator, checked with boto3 directly:

- every compute group's load balancer has its own security group
  `datomic-<system>--<group>-lb`, given at creation, tagged as the group's, in the
  system's VPC; the clients (`client_cidr_blocks`, `client_security_group_ids`) are
  admitted there, on every load balancer of the system;
- the nodes' security group admits tcp/8182 from those groups and from the nodes only:
  no subnet or client CIDR block, no other port;
- a rule added by hand on a load balancer's group (IPv6 included) is drift in the plan,
  and the next apply removes it;
- a load balancer made without a security group (by an earlier build) is replaced by
  the next apply, which the plan announces (the endpoint is known after apply);
- a group with a load balancer group's name and a stranger's tags is refused, untouched;
- destroy leaves no security group behind.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness import Emulator, Terraform, lb_name, provider_hcl

PORT = 8182
TAG_SYSTEM, TAG_GROUP = "datomic:system", "datomic:group"


def config(system: str, cidrs: list[str], query_group: bool = True) -> str:
    blocks = ", ".join(f'"{c}"' for c in cidrs)
    out = provider_hcl() + f"""
resource "datomic_system" "main" {{
  name               = "{system}"
  topology           = "production"
  retain_storage     = false
  client_cidr_blocks = [{blocks}]
}}
"""
    if query_group:
        out += """
resource "datomic_query_group" "qg" {
  system = datomic_system.main.name
  name   = "qg"
}
"""
    return out


def tags_of(items: list[dict] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def lb_group(ec2: Any, system: str, group: str) -> dict:
    found = ec2.describe_security_groups(Filters=[
        {"Name": "group-name", "Values": [f"datomic-{system}--{group}-lb"]}])["SecurityGroups"]
    assert len(found) == 1, found
    return found[0]


def sources(sg: dict) -> set[tuple[Any, ...]]:
    out: set[tuple[Any, ...]] = set()
    for p in sg["IpPermissions"]:
        key = (p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"))
        out |= {(*key, g["GroupId"]) for g in p.get("UserIdGroupPairs", [])}
        out |= {(*key, r["CidrIp"]) for r in p.get("IpRanges", [])}
        out |= {(*key, r["CidrIpv6"]) for r in p.get("Ipv6Ranges", [])}
    return out


def system_values(tf: Terraform) -> dict:
    resources = tf.show_json()["values"]["root_module"]["resources"]
    return next(r["values"] for r in resources if r["address"] == "datomic_system.main")


def our_groups(ec2: Any, system: str) -> list[str]:
    return [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]
            if g["GroupName"].startswith(f"datomic-{system}-")]


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_each_load_balancer_has_its_own_security_group(tf: Terraform, aws: Emulator) -> None:
    system = "lbsg"
    ec2 = aws.boto3("ec2", via_proxy=False)
    elb = aws.boto3("elbv2", via_proxy=False)
    tf.write(config(system, ["10.20.0.0/16"]))
    tf.apply()
    s = system_values(tf)
    nodes = s["security_group_id"]
    groups = {g: lb_group(ec2, system, g) for g in ("primary", "qg")}
    for g, sg in groups.items():
        lb = elb.describe_load_balancers(Names=[lb_name(system, g)])["LoadBalancers"][0]
        assert lb["SecurityGroups"] == [sg["GroupId"]], (g, lb)
        assert sg["VpcId"] == s["vpc_id"], sg
        t = tags_of(sg.get("Tags"))
        assert (t.get(TAG_SYSTEM), t.get(TAG_GROUP)) == (system, g), t
        # the system's clients, on each load balancer's group, on 8182 only
        assert sources(sg) == {("tcp", PORT, PORT, "10.20.0.0/16")}, (g, sg)
    # the nodes: 8182 from the load balancers' groups and each other; no CIDR block
    want = {("tcp", PORT, PORT, x) for x in (nodes, groups["primary"]["GroupId"], groups["qg"]["GroupId"])}
    assert sources(ec2.describe_security_groups(GroupIds=[nodes])["SecurityGroups"][0]) == want

    # Rules added by hand on the primary load balancer's group, IPv6 included: drift.
    primary = groups["primary"]["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=primary, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": PORT, "ToPort": PORT, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}])
    plan = tf.plan_json()
    change = next(rc["change"] for rc in plan["resource_changes"] if rc["address"] == "datomic_system.main")
    assert change["actions"] == ["update"], change
    before = change["before"]["client_cidr_blocks"] or []
    assert "::/0" in before and "192.0.2.0/24" in before, change["before"]
    tf.apply()
    assert sources(lb_group(ec2, system, "primary")) == {("tcp", PORT, PORT, "10.20.0.0/16")}
    res = tf.plan("-detailed-exitcode")
    assert res.rc == 0, res.describe()

    # A changed list reaches every load balancer's group.
    tf.write(config(system, ["10.30.0.0/16"]))
    tf.apply()
    for g in ("primary", "qg"):
        assert sources(lb_group(ec2, system, g)) == {("tcp", PORT, PORT, "10.30.0.0/16")}, g

    # Destroying the query group takes its group, and the nodes' rule naming it.
    tf.write(config(system, ["10.30.0.0/16"], query_group=False))
    tf.apply()
    assert f"datomic-{system}--qg-lb" not in our_groups(ec2, system)
    assert sources(ec2.describe_security_groups(GroupIds=[nodes])["SecurityGroups"][0]) == {
        ("tcp", PORT, PORT, x) for x in (nodes, primary)}

    tf.destroy()
    assert our_groups(ec2, system) == []
    left = [g for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"]
    assert left == [], left


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_load_balancer_without_a_security_group_is_replaced(tf: Terraform, aws: Emulator) -> None:
    """A load balancer made by an earlier build has no security group, and AWS never gives
    it one: the plan shows the endpoint as known after apply, and the apply replaces the
    load balancer by one with its own group."""
    system = "legacy"
    ec2 = aws.boto3("ec2", via_proxy=False)
    elb = aws.boto3("elbv2", via_proxy=False)
    tf.write(config(system, ["10.20.0.0/16"], query_group=False))
    tf.apply()
    name = lb_name(system, "primary")
    old = elb.describe_load_balancers(Names=[name])["LoadBalancers"][0]
    tags = elb.describe_tags(ResourceArns=[old["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]
    tg = elb.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
    # As an earlier build made it: the same name and tags, no security group.
    elb.delete_load_balancer(LoadBalancerArn=old["LoadBalancerArn"])
    bare = elb.create_load_balancer(Name=name, Subnets=[z["SubnetId"] for z in old["AvailabilityZones"]],
                                    Type="network", Scheme="internal", Tags=tags)["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=bare["LoadBalancerArn"], Protocol="TCP", Port=PORT,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    plan = tf.plan_json()
    change = next(rc["change"] for rc in plan["resource_changes"] if rc["address"] == "datomic_system.main")
    assert change["actions"] == ["update"], change
    assert change["after_unknown"].get("endpoint") is True, change
    tf.apply()
    now = elb.describe_load_balancers(Names=[name])["LoadBalancers"][0]
    sg = lb_group(ec2, system, "primary")
    assert now["SecurityGroups"] == [sg["GroupId"]], now
    assert now["LoadBalancerArn"] != bare["LoadBalancerArn"]
    assert system_values(tf)["load_balancer_dns_name"] == now["DNSName"]
    assert len(elb.describe_listeners(LoadBalancerArn=now["LoadBalancerArn"])["Listeners"]) == 1
    res = tf.plan("-detailed-exitcode")
    assert res.rc == 0, res.describe()
    tf.destroy()
    assert our_groups(ec2, system) == []


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_stranger_group_with_a_load_balancer_group_name_is_refused(tf: Terraform, aws: Emulator) -> None:
    """A security group named like a load balancer's own but not tagged as the group's is
    neither used nor deleted: the apply stops with an error naming it."""
    system = "taken"
    ec2 = aws.boto3("ec2", via_proxy=False)
    tf.write(config(system, [], query_group=False))
    tf.apply()
    vpc = system_values(tf)["vpc_id"]
    theirs = ec2.create_security_group(GroupName=f"datomic-{system}--qg-lb", Description="theirs", VpcId=vpc,
                                       TagSpecifications=[{"ResourceType": "security-group",
                                                           "Tags": [{"Key": "team", "Value": "other"}]}])["GroupId"]
    tf.write(config(system, []))
    res = tf.apply(check=False)
    text = " ".join((res.stdout + res.stderr).split())
    assert not res.ok and f'"datomic-{system}--qg-lb"' in text and "never adopts" in text, res.describe()
    # Their group is untouched by the failed apply (and nothing of the system names it).
    found = ec2.describe_security_groups(GroupIds=[theirs])["SecurityGroups"][0]
    assert tags_of(found.get("Tags")) == {"team": "other"} and found["IpPermissions"] == [], found
    nodes = system_values(tf)["security_group_id"]
    assert theirs not in str(ec2.describe_security_groups(GroupIds=[nodes])["SecurityGroups"][0])
    # (It would keep the provider's VPC from being deleted: it goes first.)
    ec2.delete_security_group(GroupId=theirs)
    tf.destroy()
    assert our_groups(ec2, system) == []
