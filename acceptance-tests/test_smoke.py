"""A first end-to-end lifecycle through the real terraform CLI against the emulator: the
shape later resource tests follow (apply, check AWS with boto3, re-plan is empty and
writes nothing, destroy, check AWS again)."""

from __future__ import annotations

import pytest

from harness import Emulator, Terraform, provider_hcl


@pytest.mark.aws
def test_smoke_solo_system_lifecycle(tf: Terraform, aws: Emulator) -> None:
    tf.write(provider_hcl() + '\nresource "datomic_system" "main" {\n  name     = "smoke"\n  topology = "solo"\n}\n')
    tf.apply()

    asg = aws.boto3("autoscaling")
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["smoke--primary"])["AutoScalingGroups"]
    assert len(groups) == 1, groups
    g = groups[0]
    assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]) == (1, 1, 1)
    lt = g["LaunchTemplate"]
    data = aws.boto3("ec2").describe_launch_template_versions(
        LaunchTemplateId=lt["LaunchTemplateId"], Versions=[lt["Version"]])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert data["InstanceType"] == "t2.small"

    aws.proxy.clear()
    rc, out, err = tf.plan("-detailed-exitcode")
    assert rc == 0, f"re-plan after apply is not empty:\n{out}\n{err}"
    assert aws.writes() == [], aws.writes()

    tf.destroy()
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=["smoke--primary"])["AutoScalingGroups"] == []
