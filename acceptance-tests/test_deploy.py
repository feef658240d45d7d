"""Applications deploy as ions do: `datomic_application.revision` is the revision ion push
put in the region's code bucket (`datomic/apps/<app>/<rev>.zip`), deployed by CodeDeploy
to the compute group's deployment group, in place (no node replaced), rolled back when it
fails. Checked with boto3 directly against the emulator (whose CodeDeploy deployments
advance, see scripts/emulator_codedeploy.py); a revision containing `emulator-fail` makes
its deployment fail there.

plan -> apply -> checks -> empty plan, a revision change (one deployment, same
instances), a failed deployment (CodeDeploy's error; state keeps the old revision), a
never-pushed revision (refused, naming `revision`), import gives the same state, destroy
removes the deployment group but never the code bucket.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable

import pytest

from harness import Emulator, Terraform, code_bucket, provider_hcl, revision_zip
from topology_helpers import (
    AwsView,
    assert_nothing_left,
    assert_replan_empty,
    import_round_trip,
    planned_actions,
    state_resources,
)

SYSTEM = "ions"
APP = SYSTEM  # a system's application name defaults to the system's name
GROUP = f"{SYSTEM}--primary"


def config(revision: str, extra: str = "") -> str:
    return provider_hcl() + f"""
resource "datomic_system" "main" {{
  name           = "{SYSTEM}"
  topology       = "solo"
  retain_storage = false
}}

resource "datomic_application" "app" {{
  system   = datomic_system.main.name
  name     = datomic_system.main.application_name
  revision = "{revision}"{extra}
}}
"""


def deployments(cd) -> list[dict]:
    ids = cd.list_deployments(applicationName=APP, deploymentGroupName=GROUP)["deployments"]
    if not ids:
        return []
    found = cd.batch_get_deployments(deploymentIds=ids)["deploymentsInfo"]
    return sorted(found, key=lambda d: d["createTime"])


def instance_ids(view: AwsView) -> list[str]:
    return sorted(i["InstanceId"] for i in view.group(SYSTEM, "primary").asg["Instances"])


def app_state(tf: Terraform) -> dict:
    return state_resources(tf.show_json())["datomic_application.app"]["values"]


@pytest.mark.aws
def test_revisions_deploy_through_codedeploy(tf: Terraform, aws: Emulator) -> None:
    view = AwsView(aws)
    cd = aws.boto3("codedeploy")
    s3 = aws.boto3("s3")
    key1 = aws.push_revision(APP, "r1")

    # Create: the CodeDeploy application, the deployment group tied to the group's
    # Auto Scaling group, one deployment of the pushed zip.
    tf.write(config("r1"))
    tf.init()
    tf.apply()
    app = cd.get_application(applicationName=APP)["application"]
    assert app["computePlatform"] == "Server"
    g = cd.get_deployment_group(applicationName=APP, deploymentGroupName=GROUP)["deploymentGroupInfo"]
    assert [a["name"] for a in g["autoScalingGroups"]] == [GROUP]
    assert g["deploymentConfigName"] == "CodeDeployDefault.OneAtATime"
    assert g["autoRollbackConfiguration"]["enabled"] is True
    assert "DEPLOYMENT_FAILURE" in g["autoRollbackConfiguration"]["events"]
    assert g["deploymentStyle"]["deploymentType"] == "IN_PLACE"
    assert g["serviceRoleArn"].endswith(f":role/{GROUP}-deploy")
    role = view.iam.get_role(RoleName=f"{GROUP}-deploy")["Role"]
    assert "codedeploy.amazonaws.com" in str(role["AssumeRolePolicyDocument"])
    assert view.iam.list_role_policies(RoleName=f"{GROUP}-deploy")["PolicyNames"] == ["codedeploy"]
    policy = view.role_policy(f"{GROUP}-deploy", "codedeploy")
    assert "autoscaling:PutLifecycleHook" in str(policy)
    arn = f"arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:{APP}/{GROUP}"
    tags = {t["Key"]: t["Value"] for t in cd.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags.get("datomic:system") == SYSTEM and tags.get("datomic:group") == "primary", tags
    ds = deployments(cd)
    assert len(ds) == 1
    assert ds[0]["revision"]["s3Location"] == {"bucket": code_bucket(), "key": key1, "bundleType": "zip"}
    assert ds[0]["status"] == "Succeeded"
    state = app_state(tf)
    assert state["revision"] == "r1"
    assert state["arn"] == arn
    assert state["deployment_id"] == ds[0]["deploymentId"]
    assert_replan_empty(tf, aws)

    # A revision change is one in-place deployment: the same nodes, the same launch template.
    nodes, lt_version = instance_ids(view), state["launch_template_version"]
    key2 = aws.push_revision(APP, "r2")
    tf.write(config("r2"))
    plan = tf.plan_json()
    assert planned_actions(plan)["datomic_application.app"] == ("update",)
    assert planned_actions(plan)["datomic_system.main"] == ("no-op",)
    tf.apply()
    ds = deployments(cd)
    assert len(ds) == 2 and ds[-1]["revision"]["s3Location"]["key"] == key2
    assert ds[-1]["status"] == "Succeeded"
    assert instance_ids(view) == nodes, "a revision change replaced nodes"
    state = app_state(tf)
    assert (state["revision"], state["launch_template_version"]) == ("r2", lt_version)
    assert state["deployment_id"] == ds[-1]["deploymentId"]
    assert_replan_empty(tf, aws)

    # A failed deployment: CodeDeploy's error and the failed lifecycle event are shown,
    # CodeDeploy rolls back, the state keeps r2.
    aws.push_revision(APP, "r3-emulator-fail")
    tf.write(config("r3-emulator-fail"))
    res = tf.apply(check=False)
    assert not res.ok
    out = res.stdout + res.stderr
    assert "HEALTH_CONSTRAINTS" in out, out
    assert "ValidateService" in out and "ScriptFailed" in out, out
    assert "rolled the group back" in out, out
    assert app_state(tf)["revision"] == "r2"
    ds = deployments(cd)
    assert [d["status"] for d in ds[-2:]] == ["Failed", "Succeeded"]
    assert ds[-1]["creator"] == "codeDeployRollback" and ds[-1]["revision"]["s3Location"]["key"] == key2
    assert instance_ids(view) == nodes
    tf.write(config("r2"))
    assert_replan_empty(tf, aws)

    # A revision never pushed: a warning at plan (a plan error would stop destroy too),
    # refused at apply, naming `revision`, where it was looked for and how to push;
    # nothing deployed, the state keeps the running revision.
    tf.write(config("r9"))
    res = tf.plan()
    text = " ".join(res.stderr.split()) + " " + " ".join(res.stdout.split())
    assert "Warning: Application revision not pushed" in text, res.describe()
    assert 'revision = "r9"' in text, text  # Terraform points at the attribute
    res = tf.apply(check=False)
    assert not res.ok
    text = " ".join(res.stderr.split())
    assert "Error: Application revision not pushed" in text, res.describe()
    assert 'revision = "r9"' in text, text
    assert f"s3://{code_bucket()}/datomic/apps/{APP}/r9.zip" in text, text
    assert ":op :push" in text, text
    assert len(deployments(cd)) == 4
    assert app_state(tf)["revision"] == "r2"

    # Import gives the same state; destroy removes the deployment group, its role and the
    # CodeDeploy application the provider made, never the code bucket.
    tf.write(config("r2"))
    import_round_trip(tf)
    assert_replan_empty(tf, aws)
    tf.destroy()
    assert APP not in cd.list_applications()["applications"]
    with pytest.raises(view.iam.exceptions.NoSuchEntityException):
        view.iam.get_role(RoleName=f"{GROUP}-deploy")
    s3.head_object(Bucket=code_bucket(), Key=key2)
    assert_nothing_left(view, SYSTEM, retained_storage=False)


@pytest.mark.aws
def test_a_revision_not_pushed_is_refused_at_apply_when_there_is_no_code_bucket(
    tf: Terraform, aws: Emulator
) -> None:
    tf.write(config("never-pushed"))
    tf.init()
    res = tf.apply(check=False)
    assert not res.ok
    text = " ".join(res.stderr.split())
    assert "Error: Application revision not pushed" in text, res.describe()
    assert 'revision = "never-pushed"' in text, text
    assert f"s3://{code_bucket()}/datomic/apps/{APP}/never-pushed.zip" in text, text
    # The provider made the code bucket, tagged, so that ion push has a place to push to.
    s3 = aws.boto3("s3")
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=code_bucket())["TagSet"]}
    assert "datomic:code" in tags
    assert aws.boto3("codedeploy").list_applications()["applications"] == []
    # Destroy plans the configuration first: a revision not pushed must not stop it.
    tf.destroy()
    s3.head_bucket(Bucket=code_bucket())


@pytest.mark.aws
@pytest.mark.timeout(900)
def test_a_deploy_role_made_a_moment_ago_is_read_once_iam_shows_it(tf: Terraform, aws: Emulator) -> None:
    """IAM's reads lag its writes: a deploy role made a moment before the apply (by an
    apply killed right after its CreateRole, or by someone else) is not found by GetRole,
    and CreateRole answers EntityAlreadyExists. That answer is not "ours already": the
    role is read once IAM shows it; a stranger's is refused, ours (by its identity tags)
    is deployed with."""
    cd = aws.boto3("codedeploy")
    iam = aws.boto3("iam", via_proxy=False)
    role = f"{GROUP}-deploy"
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "codedeploy.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    aws.push_revision(APP, "r1")
    tf.write(config("r1").split('resource "datomic_application"')[0])
    tf.init()
    tf.apply()
    # The group's identity, as the application tags the deploy role (the node role's tags).
    ours = [t for t in iam.list_role_tags(RoleName=f"{GROUP}-node")["Tags"] if t["Key"] != "datomic:created"]
    assert {"datomic:system", "datomic:group"} <= {t["Key"] for t in ours}, ours
    tf.write(config("r1"))
    old = aws.proxy.set_strict(dataclasses.replace(aws.proxy.strict.config, consistency_window=15.0))
    seen = len(aws.calls("iam"))
    made: list[list] = []

    def made_after_our_look_up(tags: list) -> Callable[[Any, Any], None]:
        # Made right after the provider's GetRole found none, through the proxy, so that
        # its reads lag as AWS's do.
        def hook(call: Any, answer: Any) -> None:
            if call.action == "GetRole" and answer[0] == 404 and tags not in made:
                made.append(tags)
                aws.boto3("iam", via_proxy=True).create_role(
                    RoleName=role, AssumeRolePolicyDocument=trust, Tags=tags)
        return hook

    try:
        aws.proxy.on_forwarded = made_after_our_look_up([{"Key": "team", "Value": "other"}])
        res = tf.apply(check=False)
        text = " ".join((res.stdout + res.stderr).split())
        assert not res.ok, res.describe()
        assert f'"{role}"' in text and "never adopts, changes or deletes" in text, text
        assert cd.list_applications()["applications"] == [] or not cd.list_deployment_groups(
            applicationName=APP)["deploymentGroups"]
        assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
        iam.delete_role(RoleName=role)
        aws.proxy.on_forwarded = made_after_our_look_up(ours)
        tf.apply()
    finally:
        aws.proxy.on_forwarded = None
        aws.proxy.set_strict(old)
    assert len(made) == 2, made
    # Ours (the stranger's, then the group's), each followed by the provider's, answered 409.
    creates = [c.status for c in aws.calls("iam")[seen:] if c.action == "CreateRole"]
    assert creates == [200, 409, 200, 409], f"the creates did not meet the role unseen: {creates}"
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["codedeploy"]
    ds = deployments(cd)
    assert [d["status"] for d in ds] == ["Succeeded"], ds
    assert app_state(tf)["revision"] == "r1"
    assert_replan_empty(tf, aws)
    tf.destroy()
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(f"{SYSTEM}--")]


def package_config(revision: str, package: str = "app.zip", package_hash: str | None = None) -> str:
    extra = f'\n  package  = "{package}"'
    if package_hash is not None:
        extra += f'\n  package_hash = "{package_hash}"'
    return config(revision, extra)


def b64sha256(data: bytes) -> str:
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.mark.aws
def test_a_package_is_uploaded_where_ion_push_puts_it(tf: Terraform, aws: Emulator) -> None:
    """`package` uploads a local zip as the revision (no ion push): S3 keeps its SHA-256,
    the deployment reads it from the revision's key; a revision is immutable (other content
    under the same revision is refused, naming `package_hash`); a wrong hash, a missing file
    are refused at plan; import leaves `package` empty and the next apply uploads nothing."""
    view = AwsView(aws)
    cd = aws.boto3("codedeploy")
    s3 = aws.boto3("s3")
    zip1 = revision_zip("p1")
    tf.write(package_config("p1"))
    (tf.workdir / "app.zip").write_bytes(zip1)
    tf.init()
    plan = tf.plan_json()
    planned = plan["resource_changes"]
    app = next(r for r in planned if r["address"] == "datomic_application.app")
    assert app["change"]["after"]["package_hash"] == b64sha256(zip1)  # known at plan
    tf.apply()
    key1 = f"datomic/apps/{APP}/p1.zip"
    head = s3.head_object(Bucket=code_bucket(), Key=key1, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == b64sha256(zip1), head
    assert s3.get_object(Bucket=code_bucket(), Key=key1)["Body"].read() == zip1
    ds = deployments(cd)
    assert len(ds) == 1 and ds[0]["revision"]["s3Location"]["key"] == key1
    assert ds[0]["status"] == "Succeeded"
    state = app_state(tf)
    assert (state["package"], state["package_hash"]) == ("app.zip", b64sha256(zip1))
    assert_replan_empty(tf, aws)

    # Other content under the same revision: the plan warns, the apply refuses on
    # package_hash; nothing is overwritten or deployed.
    zip2 = revision_zip("p2")
    (tf.workdir / "app.zip").write_bytes(zip2)
    res = tf.plan()
    text = " ".join(res.stderr.split()) + " " + " ".join(res.stdout.split())
    assert "Warning: Revision already pushed with other content" in text, res.describe()
    res = tf.apply(check=False)
    assert not res.ok
    text = " ".join(res.stderr.split())
    assert "Error: Revision already pushed with other content" in text, res.describe()
    assert "new `revision`" in text and b64sha256(zip1) in text and b64sha256(zip2) in text, text
    assert s3.get_object(Bucket=code_bucket(), Key=key1)["Body"].read() == zip1
    assert len(deployments(cd)) == 1

    # A new revision with the new content: uploaded, one in-place deployment.
    nodes = instance_ids(view)
    tf.write(package_config("p2"))
    tf.apply()
    key2 = f"datomic/apps/{APP}/p2.zip"
    assert s3.get_object(Bucket=code_bucket(), Key=key2)["Body"].read() == zip2
    ds = deployments(cd)
    assert len(ds) == 2 and ds[-1]["revision"]["s3Location"]["key"] == key2
    assert instance_ids(view) == nodes
    assert app_state(tf)["package_hash"] == b64sha256(zip2)
    assert_replan_empty(tf, aws)

    # A wrong hash and a missing file are refused at plan, on their attributes.
    tf.write(package_config("p2", package_hash=b64sha256(b"other")))
    res = tf.plan()
    assert not res.ok
    text = " ".join(res.stderr.split())
    assert "Error: Application package hash does not match" in text, res.describe()
    assert "package_hash" in text and "filebase64sha256" in text, text
    tf.write(package_config("p3", package="missing.zip"))
    res = tf.plan()
    assert not res.ok
    text = " ".join(res.stderr.split())
    assert "Error: Application package not readable" in text, res.describe()
    assert 'package = "missing.zip"' in text, text

    # Import cannot know the local file: package and package_hash come back empty; the
    # next apply sets them and uploads nothing (the key holds the same content).
    tf.write(package_config("p2", package_hash=b64sha256(zip2)))
    assert_replan_empty(tf, aws)
    import_round_trip(tf, ignore=("timeouts", "package", "package_hash"))
    imported = app_state(tf)
    assert (imported["package"], imported["package_hash"]) == (None, None)
    def uploads() -> list:
        return [c for c in aws.calls("s3") if c.method == "PUT" and "/datomic/apps/" in c.path]

    before = len(uploads())
    tf.apply()
    assert len(uploads()) == before, "the import's apply uploaded the package again"
    assert len(deployments(cd)) == 2
    assert_replan_empty(tf, aws)

    # Destroy leaves the revisions in the code bucket, as ion push's stay.
    tf.destroy()
    s3.head_object(Bucket=code_bucket(), Key=key1)
    s3.head_object(Bucket=code_bucket(), Key=key2)
    assert_nothing_left(view, SYSTEM, retained_storage=False)
