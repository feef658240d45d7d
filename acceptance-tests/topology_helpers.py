"""Helpers of the topology tests (test_topologies.py) and the negative matrix
(test_negative.py): copy an example into a test's working directory, read plans and
state, look at what the emulator holds with boto3 (directly, not through the recording
proxy), and the import round trip.

Names the provider gives AWS objects (DESIGN.md): Auto Scaling group and launch template
`<system>-<group>`, node role and instance profile `<system>-<group>-node`, security
group `datomic-<system>-nodes`, DynamoDB table `datomic-<system>`, S3 bucket
`datomic-<system>-...-storage`, every object tagged `datomic:system`/`datomic:group`/
`datomic:application`.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from harness import REGION, REPO_ROOT, Emulator, Terraform, TerraformError, hosted_zones

EXAMPLES = REPO_ROOT / "examples"
TAG_SYSTEM, TAG_GROUP, TAG_APPLICATION, TAG_REVISION = (
    "datomic:system", "datomic:group", "datomic:application", "datomic:revision")

# Files of an example that must not be copied (a user's local runs).
_IGNORE = shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.*", ".terraform.lock.hcl", "tfplan")


# --------------------------------------------------------------------------------------
# Examples in working directories
# --------------------------------------------------------------------------------------


_LOCAL_SOURCE = re.compile(r'^\s*source\s*=\s*"(\.\.?/[^"]*)"', re.MULTILINE)


def local_module_dirs(directory: Path) -> set[Path]:
    """The local module directories (`source = "../..."`) used by the .tf files of
    `directory`, and by those modules in turn, resolved."""
    found: set[Path] = set()
    todo = [directory.resolve()]
    while todo:
        d = todo.pop()
        for tf_file in d.glob("*.tf"):
            for rel in _LOCAL_SOURCE.findall(tf_file.read_text()):
                m = (d / rel).resolve()
                if m not in found:
                    found.add(m)
                    todo.append(m)
    return found


def copy_example(example: str, dest: Path) -> None:
    """Copies examples/<example> (the whole tree, so that `../modules` paths resolve)
    into `dest`, without a user's local state or plugins. Local modules it uses from
    elsewhere under examples/ (e.g. examples/modules/stage from examples/stages-module)
    are copied to the same place relative to `dest`'s parent, so that relative module
    sources resolve as they do in the repository (`dest` must be `<base>/<example>`)."""
    src = EXAMPLES / example
    shutil.copytree(src, dest, ignore=_IGNORE, dirs_exist_ok=True)
    for d in sorted({p.parent for p in src.rglob("*.tf")}):
        for module in local_module_dirs(d):
            if module.is_relative_to(src.resolve()):
                continue  # copied with the example
            assert module.is_relative_to(EXAMPLES.resolve()), f"examples/{example} uses a module outside examples/: {module}"
            assert dest.name == Path(example).name, f"{dest}: a copy of examples/{example} must be named {example}"
            target = dest.parent / module.relative_to(EXAMPLES.resolve())
            shutil.copytree(module, target, ignore=_IGNORE, dirs_exist_ok=True)


def example_tf(make_tf: Callable[..., Terraform], aws: Emulator, example: str, root: str | None = None, *,
               backend_config: dict[str, Any] | None = None,
               pushed: dict[str, Iterable[str]] | None = None, **tf_kwargs: Any) -> Terraform:
    """A Terraform working directory holding a copy of examples/<example>, pointed at
    the emulator. `root` picks a root module inside the example (e.g. "system-a").
    `backend_config` (with mode="mirror", mirror_dir=...) runs `terraform init` with
    those settings of the example's partial backend configuration. `pushed` (application
    -> revisions) are pushed to the code bucket first, as ion push would (an example's
    applications deploy only revisions that were pushed)."""
    for app, revisions in (pushed or {}).items():
        for rev in revisions:
            aws.push_revision(app, rev)
    assert (EXAMPLES / example / (root or ".") / "main.tf").is_file(), f"examples/{example}/{root or ''} has no main.tf"
    tf = make_tf(f"{example}/{root}" if root else example, endpoint=aws.url, **tf_kwargs)
    copy_example(example, tf.workdir.parent if root else tf.workdir)
    if backend_config is not None or tf.mode != "dev_overrides":
        tf.init(backend_config=backend_config)  # `terraform init`: provider, modules, backend
    elif any('module "' in p.read_text() for p in tf.workdir.glob("*.tf")):
        tf.init()  # `terraform get`: installs the local modules
    return tf


def replace_in_main(tf: Terraform, old: str, new: str, count: int = 1) -> None:
    """Edits the working directory's main.tf as a user would; `old` must occur."""
    path = tf.workdir / "main.tf"
    text = path.read_text()
    assert text.count(old) >= count, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


def apply_ok(tf: Terraform, *args: str) -> None:
    res = tf.apply(*args, check=False)
    if not res.ok:
        raise TerraformError(f"terraform apply {' '.join(args)} failed: {res.describe()}")


# --------------------------------------------------------------------------------------
# Plans and state
# --------------------------------------------------------------------------------------


def planned_actions(plan: dict) -> dict[str, tuple[str, ...]]:
    """{resource address: actions} of a `show -json tfplan` document (managed resources)."""
    return {
        rc["address"]: tuple(rc["change"]["actions"])
        for rc in plan.get("resource_changes", [])
        if rc.get("mode", "managed") == "managed"
    }


def resource_change(plan: dict, address: str) -> dict:
    for rc in plan.get("resource_changes", []):
        if rc["address"] == address:
            return rc["change"]
    raise AssertionError(f"{address} not in the plan: {sorted(planned_actions(plan))}")


def state_resources(show: dict) -> dict[str, dict]:
    """{address: {"type": ..., "values": ...}} of every managed resource of a
    `terraform show -json` state document, modules included."""
    out: dict[str, dict] = {}

    def walk(module: dict) -> None:
        for r in module.get("resources", []):
            if r.get("mode") == "managed":
                out[r["address"]] = {"type": r["type"], "values": r["values"]}
        for child in module.get("child_modules", []):
            walk(child)

    walk((show.get("values") or {}).get("root_module") or {})
    return out


def expected_import_id(rtype: str, values: dict) -> str:
    """The import id DESIGN.md gives each resource, from its attributes."""
    if rtype == "datomic_system":
        return values["name"]
    if rtype == "datomic_query_group":
        return f"{values['system']}/{values['name']}"
    if rtype == "datomic_application":
        return f"{values['system']}/{values.get('compute_group') or 'primary'}/{values['name']}"
    raise AssertionError(f"unexpected resource type {rtype}")


def import_round_trip(tf: Terraform, ignore: Iterable[str] = ("timeouts",)) -> dict[str, str]:
    """For every resource in the state: `terraform state rm`, then `terraform import ADDR
    ID` with the documented id; asserts `terraform show -json` gives the same values as
    before (but for `ignore`d attributes). Returns {address: id}."""
    ignore = set(ignore)
    before = state_resources(tf.show_json())
    assert before, "nothing in the state to import"
    ids = {}
    for addr, r in before.items():
        id_ = expected_import_id(r["type"], r["values"])
        assert r["values"]["id"] == id_, f"{addr}: id {r['values']['id']!r}, documented import id {id_!r}"
        ids[addr] = id_
    for addr, id_ in ids.items():
        tf.run("state", "rm", addr, check=True)
        res = tf.import_(addr, id_, check=False)
        assert res.ok, f"terraform import {addr} {id_} failed: {res.describe()}"
    after = state_resources(tf.show_json())
    assert sorted(after) == sorted(before)
    diffs = []
    for addr in before:
        b, a = before[addr]["values"], after[addr]["values"]
        for k in sorted(set(b) | set(a)):
            if k in ignore:
                continue
            if b.get(k) != a.get(k):
                diffs.append(f"{addr}.{k}: before import {b.get(k)!r}, after {a.get(k)!r}")
    assert not diffs, "import gives a different state:\n" + "\n".join(diffs)
    return ids


# --------------------------------------------------------------------------------------
# What the emulator holds
# --------------------------------------------------------------------------------------


def dns_target(route53: Any, system: str, group: str) -> str | None:
    """What the group's name in its system's private zone (`entry` for the primary group)
    is a CNAME of; None without zone or record."""
    zones = hosted_zones(route53, system)
    if not zones:
        return None
    assert len(zones) == 1 and zones[0]["Config"]["PrivateZone"], zones
    name = f"{'entry' if group == 'primary' else group}.{system}.{REGION}.datomic.net."
    sets = route53.list_resource_record_sets(HostedZoneId=zones[0]["Id"], StartRecordName=name,
                                             StartRecordType="CNAME", MaxItems="1")["ResourceRecordSets"]
    if not sets or (sets[0]["Name"], sets[0]["Type"]) != (name, "CNAME"):
        return None
    return sets[0]["ResourceRecords"][0]["Value"]


def tag_dict(tags: Iterable[dict] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def node_config(user_data_b64: str) -> dict:
    """The node configuration JSON carried in a launch template's user data."""
    text = base64.b64decode(user_data_b64).decode()
    line = next((ln for ln in text.splitlines() if ln.lstrip().startswith("{")), None)
    assert line is not None, f"no JSON line in the user data:\n{text}"
    return json.loads(line)


@dataclass
class Group:
    """A compute group as the emulator has it."""

    asg: dict
    template_version: int
    template: dict  # LaunchTemplateData of the latest version
    node: dict  # node configuration from the user data
    instances: list[dict]  # EC2 instances of the group that are in service

    @property
    def tags(self) -> dict[str, str]:
        return tag_dict(self.asg.get("Tags"))

    @property
    def sizes(self) -> tuple[int, int, int]:
        return self.asg["MinSize"], self.asg["MaxSize"], self.asg["DesiredCapacity"]


class AwsView:
    """boto3 against the emulator directly (the recording proxy never sees these calls)."""

    def __init__(self, aws: Emulator) -> None:
        self.asg = aws.boto3("autoscaling")
        self.ec2 = aws.boto3("ec2")
        self.iam = aws.boto3("iam")
        self.s3 = aws.boto3("s3")
        self.ddb = aws.boto3("dynamodb")
        self.elb = aws.boto3("elbv2")
        self.route53 = aws.boto3("route53")
        self.cd = aws.boto3("codedeploy")
        self.kms = aws.boto3("kms")
        self.logs = aws.boto3("logs")
        self.efs = aws.boto3("efs")

    # compute groups
    def auto_scaling_groups(self) -> list[dict]:
        return [g for page in self.asg.get_paginator("describe_auto_scaling_groups").paginate()
                for g in page["AutoScalingGroups"]]

    def group(self, system: str, group: str) -> Group:
        name = f"{system}--{group}"
        groups = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        assert len(groups) == 1, f"Auto Scaling group {name}: {groups}"
        g = groups[0]
        lt = g["LaunchTemplate"]
        latest = self.ec2.describe_launch_template_versions(
            LaunchTemplateId=lt["LaunchTemplateId"], Versions=["$Latest"])["LaunchTemplateVersions"][0]
        data = latest["LaunchTemplateData"]
        ids = [i["InstanceId"] for i in g.get("Instances", []) if i["LifecycleState"] == "InService"]
        instances = []
        if ids:
            for res in self.ec2.describe_instances(InstanceIds=ids)["Reservations"]:
                instances.extend(res["Instances"])
        return Group(asg=g, template_version=latest["VersionNumber"], template=data,
                     node=node_config(data["UserData"]), instances=instances)

    def load_balancer(self, dns_name: str) -> dict | None:
        return next((lb for lb in self.elb.describe_load_balancers()["LoadBalancers"]
                     if lb["DNSName"] == dns_name), None)

    def elb_objects_of(self, system: str) -> dict[str, list[str]]:
        """Load balancers and target groups tagged with `system`."""
        out: dict[str, list[str]] = {"load_balancers": [], "target_groups": []}
        for kind, items, arn_key, name_key in (
            ("load_balancers", self.elb.describe_load_balancers()["LoadBalancers"], "LoadBalancerArn", "LoadBalancerName"),
            ("target_groups", self.elb.describe_target_groups()["TargetGroups"], "TargetGroupArn", "TargetGroupName"),
        ):
            for item in items:
                desc = self.elb.describe_tags(ResourceArns=[item[arn_key]])["TagDescriptions"]
                if any(tag_dict(d.get("Tags")).get(TAG_SYSTEM) == system for d in desc):
                    out[kind].append(item[name_key])
        return out

    def running_revision(self, application: str, system: str, group: str) -> str | None:
        """The revision the group's CodeDeploy deployment group last deployed successfully
        (from its S3 key, `datomic/apps/<application>/<revision>.zip`), None if none."""
        cd = self.cd
        try:
            g = cd.get_deployment_group(applicationName=application,
                                        deploymentGroupName=f"{system}--{group}")["deploymentGroupInfo"]
        except cd.exceptions.ClientError:
            return None
        last = (g.get("lastSuccessfulDeployment") or {}).get("deploymentId")
        if not last:
            return None
        key = cd.get_deployment(deploymentId=last)["deploymentInfo"]["revision"]["s3Location"]["key"]
        prefix = f"datomic/apps/{application}/"
        return key[len(prefix):-len(".zip")] if key.startswith(prefix) and key.endswith(".zip") else None

    def role_policy(self, role: str, policy: str) -> dict | None:
        try:
            doc = self.iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        except self.iam.exceptions.NoSuchEntityException:
            return None
        return json.loads(doc) if isinstance(doc, str) else doc

    def role_policy_names(self, role: str) -> list[str]:
        return self.iam.list_role_policies(RoleName=role)["PolicyNames"]

    # storage
    def vpcs(self, system: str) -> list[str]:
        return [v["VpcId"] for v in self.ec2.describe_vpcs(
            Filters=[{"Name": f"tag:{TAG_SYSTEM}", "Values": [system]}])["Vpcs"]]

    def subnets(self, vpc_id: str) -> list[dict]:
        return self.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]

    def buckets(self, system: str) -> list[str]:
        return [b["Name"] for b in self.s3.list_buckets().get("Buckets", [])
                if b["Name"].startswith(f"datomic-{system}-") and b["Name"].endswith("-storage")
                or b["Name"] == f"datomic-{system}-storage"]

    def tables(self, system: str) -> list[str]:
        return [t for t in self.ddb.list_tables()["TableNames"] if t == f"datomic-{system}"]

    def catalogs(self, system: str) -> list[str]:
        return [t for t in self.ddb.list_tables()["TableNames"] if t == f"datomic-{system}--catalog"]

    def keys(self, system: str) -> list[str]:
        """The system's KMS key behind its alias, unless its deletion is scheduled (a
        destroy schedules it: KMS deletes a key no sooner than 7 days later)."""
        try:
            meta = self.kms.describe_key(KeyId=f"alias/datomic-{system}")["KeyMetadata"]
        except self.kms.exceptions.NotFoundException:
            return []
        return [] if meta["KeyState"] == "PendingDeletion" else [meta["Arn"]]
    def log_groups(self, system: str) -> list[str]:
        name = f"datomic-{system}"
        return [g["logGroupName"] for g in self.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
                if g["logGroupName"] == name]

    # everything of a system
    def leftovers(self, system: str) -> dict[str, list[str]]:
        """Every AWS object of `system` that still exists, by kind (compute and storage).
        Instances count while not terminated (moto: shutting-down -> terminated)."""
        prefix = f"{system}--"
        out: dict[str, list[str]] = {}
        out["autoscaling_groups"] = [
            g["AutoScalingGroupName"] for g in self.auto_scaling_groups()
            if tag_dict(g.get("Tags")).get(TAG_SYSTEM) == system]
        out["launch_templates"] = [
            t["LaunchTemplateName"] for t in self.ec2.describe_launch_templates()["LaunchTemplates"]
            if t["LaunchTemplateName"].startswith(prefix) and
            tag_dict(t.get("Tags")).get(TAG_SYSTEM, system) == system]
        out["roles"] = [r["RoleName"] for r in self.iam.list_roles()["Roles"]
                        if r["RoleName"].startswith(prefix) and r["RoleName"].endswith("-node")]
        out["policies"] = [p["PolicyName"] for p in self.iam.list_policies(Scope="Local")["Policies"]
                           if p["PolicyName"] == f"{system}--node-boundary"]
        out["instance_profiles"] = [
            p["InstanceProfileName"] for p in self.iam.list_instance_profiles()["InstanceProfiles"]
            if p["InstanceProfileName"].startswith(prefix) and p["InstanceProfileName"].endswith("-node")]
        out["security_groups"] = [
            g["GroupId"] for g in self.ec2.describe_security_groups(
                Filters=[{"Name": "group-name", "Values": [f"datomic-{system}-nodes"]}])["SecurityGroups"]]
        out["instances"] = [
            i["InstanceId"]
            for res in self.ec2.describe_instances(
                Filters=[{"Name": f"tag:{TAG_SYSTEM}", "Values": [system]}])["Reservations"]
            for i in res["Instances"] if i["State"]["Name"] not in ("terminated", "shutting-down")]
        out.update(self.elb_objects_of(system))
        out["hosted_zones"] = [z["Id"] for z in hosted_zones(self.route53, system)]
        out["vpcs"] = self.vpcs(system)
        out["buckets"] = self.buckets(system)
        out["tables"] = self.tables(system)
        out["catalogs"] = self.catalogs(system)
        out["keys"] = self.keys(system)
        out["log_groups"] = self.log_groups(system)
        out["file_systems"] = [f["FileSystemId"] for f in self.efs.describe_file_systems()["FileSystems"]
                               if f["CreationToken"] == f"datomic-{system}"]
        out["file_system_groups"] = [g["GroupId"] for g in self.ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [f"datomic-{system}--efs"]}])["SecurityGroups"]]
        return out


STORAGE_KINDS = ("vpcs", "buckets", "tables", "catalogs", "keys", "log_groups", "file_systems", "file_system_groups")


def assert_nothing_left(view: AwsView, system: str, *, retained_storage: bool) -> dict[str, list[str]]:
    """After destroy: no compute object of `system` is left; its storage is left exactly
    when it was retained (one VPC, bucket, table, catalog, key and log group), else nothing at all."""
    left = view.leftovers(system)
    compute = {k: v for k, v in left.items() if k not in STORAGE_KINDS and v}
    assert not compute, f"system {system}: compute objects left after destroy: {compute}"
    storage = {k: left[k] for k in STORAGE_KINDS}
    if retained_storage:
        assert all(len(v) == 1 for v in storage.values()), f"system {system}: retained storage should be left exactly: {storage}"
    else:
        assert not any(storage.values()), f"system {system}: storage left although retain_storage = false: {storage}"
    return storage


def check_storage(view: AwsView, values: dict) -> None:
    """A system's storage as its state says: VPC (tagged) with subnets in >= 2
    availability zones, S3 bucket, DynamoDB table, security group."""
    system = values["name"]
    assert view.vpcs(system) == [values["vpc_id"]]
    subnets = view.subnets(values["vpc_id"])
    assert sorted(s["SubnetId"] for s in subnets) == sorted(values["subnet_ids"])
    assert len({s["AvailabilityZone"] for s in subnets}) >= 2, subnets
    view.s3.head_bucket(Bucket=values["bucket_name"])
    assert view.buckets(system) == [values["bucket_name"]]
    bucket = values["bucket_name"]
    # Named after the account, so that no other account can take the name first.
    assert bucket == f"datomic-{system}-123456789012-storage", bucket
    assert view.s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
    rules = view.s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}], rules
    policy = json.loads(view.s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert any(st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for st in policy["Statement"]), policy
    table = view.ddb.describe_table(TableName=values["table_name"])["Table"]
    assert table["TableName"] == f"datomic-{system}"
    assert table.get("DeletionProtectionEnabled") is True, table
    backups = view.ddb.describe_continuous_backups(TableName=values["table_name"])["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED", backups
    sgs = view.ec2.describe_security_groups(GroupIds=[values["security_group_id"]])["SecurityGroups"]
    assert sgs[0]["VpcId"] == values["vpc_id"]
    check_datomic_storage(view, values)


def check_datomic_storage(view: AwsView, values: dict) -> None:
    """What Datomic's storage stack holds besides the network: the system's KMS key
    (behind its alias) encrypting the bucket, both tables (the log's and the
    catalog's), the log group and the file system (a mount target in each zone of the
    system's subnets), and the private zone clients find the system by, associated with the
    system's VPC."""
    system, key = values["name"], values["kms_key_arn"]
    meta = view.kms.describe_key(KeyId=f"alias/datomic-{system}")["KeyMetadata"]
    assert (meta["Arn"], meta["KeyState"]) == (key, "Enabled"), meta
    rules = view.s3.get_bucket_encryption(Bucket=values["bucket_name"])["ServerSideEncryptionConfiguration"]["Rules"]
    assert [r["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID") for r in rules] == [key], rules
    assert values["catalog_table_name"] == f"datomic-{system}--catalog"
    for name in (values["table_name"], values["catalog_table_name"]):
        sse = view.ddb.describe_table(TableName=name)["Table"].get("SSEDescription", {})
        assert sse.get("KMSMasterKeyArn") == key, (name, sse)
    [group] = [g for g in view.logs.describe_log_groups(logGroupNamePrefix=f"datomic-{system}")["logGroups"]
               if g["logGroupName"] == values["log_group_name"] == f"datomic-{system}"]
    assert group.get("kmsKeyId") == key, group
    [fs] = view.efs.describe_file_systems(FileSystemId=values["file_system_id"])["FileSystems"]
    assert (fs["CreationToken"], fs["Encrypted"], fs.get("KmsKeyId")) == (f"datomic-{system}", True, key), fs
    mounts = view.efs.describe_mount_targets(FileSystemId=fs["FileSystemId"])["MountTargets"]
    zones = {s["AvailabilityZone"] for s in view.subnets(values["vpc_id"]) if s["SubnetId"] in values["subnet_ids"]}
    assert {m["AvailabilityZoneName"] for m in mounts} == zones and len(mounts) == len(zones), (mounts, zones)
    zones = hosted_zones(view.route53, system)
    assert len(zones) == 1, zones
    vpcs = view.route53.get_hosted_zone(Id=zones[0]["Id"])["VPCs"]
    assert [v["VPCId"] for v in vpcs] == [values["vpc_id"]], vpcs


def check_group(
    view: AwsView,
    system: str,
    group: str,
    *,
    instance_type: str,
    sizes: tuple[int, int, int],
    application: str,
    parameters: dict[str, str] | None = None,
    revision: str | None = None,
    transaction_functions: list[str] | None = None,
    topology: str | None = None,
    endpoint: str | None = None,
    target_cpu: float | None = None,
) -> Group:
    """One compute group end to end: its Auto Scaling group (name, min/max/desired,
    instances in service, identity tags), the latest version of its launch template
    (instance type, IMDSv2 required, encrypted EBS, node configuration in the user data:
    parameters; no revision), the revision CodeDeploy last deployed to the group's
    deployment group when `revision` is given, its instances (running, that type, tagged), its node role and
    instance profile; the group's endpoint (an internal Network Load Balancer) when
    given, and its target-tracking policy when `target_cpu` is given (else none)."""
    g = view.group(system, group)
    assert g.asg["AutoScalingGroupName"] == f"{system}--{group}"
    assert g.sizes == sizes, f"{system}-{group}: (min, max, desired) {g.sizes}, expected {sizes}"
    assert len(g.instances) == sizes[2], f"{system}-{group}: {len(g.instances)} instances in service, expected {sizes[2]}"
    for k, v in ((TAG_SYSTEM, system), (TAG_GROUP, group), (TAG_APPLICATION, application)):
        assert g.tags.get(k) == v, f"{system}-{group}: tag {k} = {g.tags.get(k)!r}, expected {v!r}"
    t = g.template
    # the emulator ignores MetadataOptions and volume encryption on the instances: the template
    assert t["InstanceType"] == instance_type, f"{system}-{group}: launch template has {t['InstanceType']}"
    assert t["MetadataOptions"]["HttpTokens"] == "required", t["MetadataOptions"]
    ebs = [m["Ebs"] for m in t.get("BlockDeviceMappings", []) if "Ebs" in m]
    assert ebs and all(e.get("Encrypted") is True for e in ebs), t.get("BlockDeviceMappings")
    key = view.kms.describe_key(KeyId=f"alias/datomic-{system}")["KeyMetadata"]["Arn"]
    assert all(e.get("KmsKeyId") == key for e in ebs), (key, ebs)
    # The encrypted mapping is the image's own root device, whatever the image.
    image = view.ec2.describe_images(ImageIds=[t["ImageId"]])["Images"][0]
    assert [m["DeviceName"] for m in t["BlockDeviceMappings"]] == [image["RootDeviceName"]], \
        (t["BlockDeviceMappings"], image["RootDeviceName"])
    node = g.node
    assert (node["system"], node["group"], node["application"]) == (system, group, application), node
    assert node.get("parameters", {}) == (parameters or {}), node
    # The code is CodeDeploy's (ion deploys): the launch template carries no revision.
    assert node.get("revision") is None, node
    if revision is not None:
        assert view.running_revision(application, system, group) == revision, \
            f"{system}-{group}: CodeDeploy runs {view.running_revision(application, system, group)!r}, expected {revision!r}"
    assert node.get("transaction_functions", []) == (transaction_functions or []), node
    if topology is not None:
        assert node.get("topology") == topology, node
    for i in g.instances:
        assert i["State"]["Name"] == "running", i["State"]
        assert i["InstanceType"] == instance_type, (i["InstanceId"], i["InstanceType"])
        itags = tag_dict(i.get("Tags"))
        for k, v in ((TAG_SYSTEM, system), (TAG_GROUP, group), (TAG_APPLICATION, application)):
            assert itags.get(k) == v, f"instance {i['InstanceId']}: tag {k} = {itags.get(k)!r}"
    if endpoint is not None:
        lb = view.load_balancer(endpoint)
        assert lb is not None, f"{system}-{group}: no load balancer with DNS name {endpoint}"
        assert (lb["Type"], lb["Scheme"]) == ("network", "internal"), lb
        assert tag_dict(view.elb.describe_tags(ResourceArns=[lb["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]).get(TAG_SYSTEM) == system
        assert g.asg.get("TargetGroupARNs"), f"{system}-{group}: the Auto Scaling group has no target group"
        assert dns_target(view.route53, system, group) == endpoint, \
            f"{system}-{group}: its name in the system's private zone does not point at {endpoint}"
    policies = view.asg.describe_policies(AutoScalingGroupName=f"{system}--{group}")["ScalingPolicies"]
    if target_cpu is None:
        assert policies == [], f"{system}-{group}: unexpected scaling policies {policies}"
    else:
        assert len(policies) == 1, policies
        tt = policies[0]["TargetTrackingConfiguration"]
        assert policies[0]["PolicyType"] == "TargetTrackingScaling"
        assert tt["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ASGAverageCPUUtilization"
        assert tt["TargetValue"] == target_cpu, tt
    role = f"{system}--{group}-node"
    view.iam.get_role(RoleName=role)
    profile = view.iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [role]
    # The node's own policy reaches the system's bucket only in the system's account.
    node = view.role_policy(role, "datomic-node")
    assert node is not None, f"{role}: no datomic-node policy"
    bucket_statement = next(st for st in node["Statement"] if st.get("Sid") == "SystemBucket")
    assert bucket_statement["Condition"] == {"StringEquals": {"s3:ResourceAccount": "123456789012"}}, node
    return g


def assert_replan_empty(tf: Terraform, aws: Emulator, *args: str) -> None:
    """`terraform plan -detailed-exitcode` shows no changes, and the plan wrote nothing."""
    aws.proxy.clear()
    res = tf.plan("-detailed-exitcode", *args)
    assert res.rc == 0, f"plan after apply is not empty:\n{res.describe()}"
    writes = aws.writes()
    assert writes == [], f"a plan wrote to AWS: {writes}"


def json_equal(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
