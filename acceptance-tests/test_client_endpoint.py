"""Clients connect as Datomic documents (issue 14), through the real terraform CLI against
the emulator, checked with boto3 directly:

- the system's Route53 private hosted zone `<system>.<region>.datomic.net`, associated
  with the system's VPC and tagged with its identity; `entry` names the primary group's
  load balancer, `<group>` each query group's;
- `client_config` is exactly the map a Datomic client takes (`server-type`, `region`,
  `system`, `endpoint`), and each group's `endpoint` is its URL;
- a name deleted behind Terraform's back is drift the next apply repairs; import gives
  the same state; destroy leaves no zone, and a query group's destroy removes its name;
- a private zone of the system's name that is not the system's is refused, never adopted
  or deleted.
"""

from __future__ import annotations

import pytest

from harness import REGION, Emulator, Terraform, hosted_zones, provider_hcl
from topology_helpers import (
    AwsView,
    apply_ok,
    assert_nothing_left,
    assert_replan_empty,
    dns_target,
    import_round_trip,
    planned_actions,
    state_resources,
    tag_dict,
)

SYSTEM = "dns-clients"
GROUP = "analytics"
PORT = 8182


def config(with_group: bool = True) -> str:
    group = f"""
resource "datomic_query_group" "analytics" {{
  system = datomic_system.main.name
  name   = "{GROUP}"
}}
""" if with_group else ""
    return provider_hcl() + f"""
resource "datomic_system" "main" {{
  name           = "{SYSTEM}"
  topology       = "production"
  retain_storage = false
  tags           = {{ Team = "data" }}
}}
{group}
output "client_config" {{
  value = datomic_system.main.client_config
}}
"""


def values(tf: Terraform) -> dict[str, dict]:
    return {a: r["values"] for a, r in state_resources(tf.show_json()).items()}


def zone_of(view: AwsView, system: str) -> dict:
    zones = hosted_zones(view.route53, system)
    assert len(zones) == 1, zones
    return zones[0]


def delete_name(view: AwsView, system: str, label: str) -> None:
    """Deletes `<label>.<zone>` as someone would in the console."""
    zone = zone_of(view, system)["Id"]
    name = f"{label}.{system}.{REGION}.datomic.net."
    sets = [r for r in view.route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
            if r["Name"] == name]
    assert len(sets) == 1, sets
    view.route53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": sets[0]}]})


@pytest.mark.aws
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_zone_names_and_client_config(tf: Terraform, aws: Emulator) -> None:
    view = AwsView(aws)
    tf.write(config())
    aws.proxy.clear()
    plan = tf.plan_json()
    assert aws.writes() == [], aws.writes()
    assert planned_actions(plan) == {"datomic_system.main": ("create",),
                                     "datomic_query_group.analytics": ("create",)}
    apply_ok(tf)
    v = values(tf)
    s, q = v["datomic_system.main"], v["datomic_query_group.analytics"]

    # The zone: private, Datomic's name, in the system's VPC, tagged as the system's.
    zone = zone_of(view, SYSTEM)
    assert zone["Name"] == f"{SYSTEM}.{REGION}.datomic.net."
    assert zone["Config"]["PrivateZone"] is True, zone
    got = view.route53.get_hosted_zone(Id=zone["Id"])
    assert [(x["VPCId"], x["VPCRegion"]) for x in got["VPCs"]] == [(s["vpc_id"], REGION)], got["VPCs"]
    zone_id = zone["Id"].rsplit("/", 1)[-1]
    tags = tag_dict(view.route53.list_tags_for_resource(
        ResourceType="hostedzone", ResourceId=zone_id)["ResourceTagSet"]["Tags"])
    assert (tags.get("datomic:managed-by"), tags.get("datomic:system"), tags.get("Team")) == \
        ("terraform-provider-datomic", SYSTEM, "data"), tags

    # The names point at the groups' load balancers.
    assert dns_target(view.route53, SYSTEM, "primary") == s["load_balancer_dns_name"]
    assert dns_target(view.route53, SYSTEM, GROUP) == q["load_balancer_dns_name"]
    assert s["load_balancer_dns_name"] != q["load_balancer_dns_name"]
    assert view.load_balancer(s["load_balancer_dns_name"]) is not None
    assert view.load_balancer(q["load_balancer_dns_name"]) is not None

    # What a Datomic client takes as is.
    entry = f"http://entry.{SYSTEM}.{REGION}.datomic.net:{PORT}/"
    want = {"server-type": "cloud", "region": REGION, "system": SYSTEM, "endpoint": entry}
    assert s["client_config"] == want, s["client_config"]
    assert tf.outputs()["client_config"] == want
    assert s["endpoint"] == entry
    assert q["endpoint"] == f"http://{GROUP}.{SYSTEM}.{REGION}.datomic.net:{PORT}/"
    assert_replan_empty(tf, aws)

    # A name deleted behind Terraform's back is drift; the next apply puts it back.
    for label, address, group in (("entry", "datomic_system.main", "primary"),
                                  (GROUP, "datomic_query_group.analytics", GROUP)):
        delete_name(view, SYSTEM, label)
        assert dns_target(view.route53, SYSTEM, group) is None
        changes = {a: x for a, x in planned_actions(tf.plan_json()).items() if x != ("no-op",)}
        assert changes == {address: ("update",)}, changes
        apply_ok(tf)
        assert dns_target(view.route53, SYSTEM, group) == values(tf)[address]["load_balancer_dns_name"]
        assert values(tf)[address]["endpoint"] == v[address]["endpoint"]
        assert_replan_empty(tf, aws)

    # Import gives the same state.
    import_round_trip(tf)
    assert_replan_empty(tf, aws)

    # A query group's destroy takes its name, not the zone.
    tf.write(config(with_group=False))
    apply_ok(tf)
    assert dns_target(view.route53, SYSTEM, GROUP) is None
    assert dns_target(view.route53, SYSTEM, "primary") == s["load_balancer_dns_name"]

    tf.destroy()
    assert hosted_zones(view.route53, SYSTEM) == []
    assert_nothing_left(view, SYSTEM, retained_storage=False)


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_a_strangers_zone_of_the_systems_name_is_refused(tf: Terraform, aws: Emulator) -> None:
    """A team's own private zone named `<system>.<region>.datomic.net`: the apply stops,
    before anything is made, with an error naming it; nothing touches the zone."""
    view = AwsView(aws)
    name = "dns-theirs"
    vpc = view.ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    theirs = view.route53.create_hosted_zone(
        Name=f"{name}.{REGION}.datomic.net", CallerReference="their-zone",
        HostedZoneConfig={"PrivateZone": True, "Comment": "ours, for other things"},
        VPC={"VPCRegion": REGION, "VPCId": vpc})["HostedZone"]["Id"]
    tf.write(provider_hcl() + f"""
resource "datomic_system" "main" {{
  name           = "{name}"
  topology       = "solo"
  retain_storage = false
}}
""")
    res = tf.apply(check=False)
    assert not res.ok
    text = " ".join(res.stderr.split())
    assert f"{name}.{REGION}.datomic.net" in text and "does not belong" in text, res.describe()
    assert f"entry.{name}.{REGION}.datomic.net" in text, res.describe()
    zones = hosted_zones(view.route53, name)
    assert [z["Id"] for z in zones] == [theirs], zones
    assert view.route53.list_tags_for_resource(
        ResourceType="hostedzone", ResourceId=theirs.rsplit("/", 1)[-1])["ResourceTagSet"].get("Tags", []) == []
    assert view.leftovers(name)["autoscaling_groups"] == [] and view.vpcs(name) == []
    tf.destroy()
    assert [z["Id"] for z in hosted_zones(view.route53, name)] == [theirs]
