"""`node_policy_arn` (Datomic's NodePolicyARN), end to end through the real terraform CLI:
the user's managed policy is attached to the node role, is no drift, moves with the
configuration (the new one attached, the old one detached), is refused clearly when it
does not exist, and is detached, never deleted, when removed or on destroy.
"""

from __future__ import annotations

import json

import pytest

from harness import Emulator, Terraform, provider_hcl

ACCOUNT = "123456789012"
ROLE = "np--primary-node"
READ_QUEUE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"}]}


def system_hcl(policy_arn: str | None) -> str:
    line = f'  node_policy_arn = "{policy_arn}"\n' if policy_arn else ""
    return provider_hcl() + f"""
resource "datomic_system" "main" {{
  name           = "np"
  topology       = "solo"
  retain_storage = false
{line}}}
"""


@pytest.mark.aws
@pytest.mark.timeout(600)
def test_node_policy_is_attached_moved_and_detached_never_deleted(tf: Terraform, aws: Emulator) -> None:
    iam = aws.boto3("iam", via_proxy=False)
    a, b = (iam.create_policy(PolicyName=f"team-nodes-{x}", Path="/team/",
                              PolicyDocument=json.dumps(READ_QUEUE))["Policy"]["Arn"] for x in "ab")

    def attached() -> list[str]:
        return [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]]

    def empty_plan() -> None:
        res = tf.plan("-detailed-exitcode")
        assert res.rc == 0, res.describe()

    tf.write(system_hcl(a))
    tf.apply()
    assert attached() == [a]
    empty_plan()

    # Changed: the new one attached, the old one detached (and kept).
    tf.write(system_hcl(b))
    tf.apply()
    assert attached() == [b]
    empty_plan()

    # One that does not exist: refused on the attribute, nothing changed.
    missing = f"arn:aws:iam::{ACCOUNT}:policy/team/nowhere"
    tf.write(system_hcl(missing))
    res = tf.apply(check=False)
    text = " ".join((res.stdout + res.stderr).split())
    assert not res.ok and "node_policy_arn" in text and missing in text, res.describe()
    assert attached() == [b]

    # Detached by hand: drift the next apply repairs.
    iam.detach_role_policy(RoleName=ROLE, PolicyArn=b)
    tf.write(system_hcl(b))
    plan = tf.plan_json()
    change = next(rc["change"] for rc in plan["resource_changes"] if rc["address"] == "datomic_system.main")
    assert change["actions"] == ["update"] and change["before"]["node_policy_arn"] is None, change
    tf.apply()
    assert attached() == [b]

    # Removed: detached; destroy leaves both policies as they were.
    tf.write(system_hcl(None))
    tf.apply()
    assert attached() == []
    empty_plan()
    tf.write(system_hcl(a))
    tf.apply()
    tf.destroy()
    arns = {p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]}
    assert {a, b} <= arns, arns
