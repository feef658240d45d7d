"""Every Datomic topology of DESIGN.md's domain table, end to end, from the user-facing
examples in examples/<topology>/ (copied as they are into the test's working directory):

    plan (the planned actions) -> apply -> AWS state checked directly with boto3
    -> re-plan shows no changes and writes nothing -> import of every resource by its
    documented id gives the same state -> destroy -> nothing of the system is left
    (but its retained storage, when retain_storage is left at its default).

examples/separate-state keeps each root's state in an S3 backend served by the emulator
(bucket created by the test, provider installed from a mirror as `terraform init` needs).

Plus: the solo -> production upgrade in place, an application's revision change, and a
system re-created with the name of a destroyed one adopting its retained storage.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from harness import REPO_ROOT, Diagnostic, Emulator, Terraform
from topology_helpers import (
    EXAMPLES,
    AwsView,
    assert_nothing_left,
    assert_replan_empty,
    check_group,
    check_storage,
    copy_example,
    example_tf,
    import_round_trip,
    json_equal,
    local_module_dirs,
    planned_actions,
    replace_in_main,
    resource_change,
    state_resources,
)

MakeTf = Callable[..., Terraform]

# Every topology folder of examples/ (the domain table), and the demo; root modules
# inside an example (separate-production, separate-state) are listed by their path.
EXAMPLE_ROOTS = [
    "solo", "production", "stages", "stages-module", "autoscaling", "multiple-applications",
    "separate-production/system-a", "separate-production/system-b",
    "separate-state/system-a", "separate-state/system-b",
    "transaction-functions", "demo",
]
# Root modules of examples/ that are no topology: the provider block of the docs, and
# examples/operations (checked and applied by test_operations.py).
OTHER_ROOTS = ["provider", "operations"]
# Documentation snippets (compiled into docs/ by src/docs.rs): resource and data source
# blocks without a terraform/provider block; validated together with examples/provider.
SNIPPET_PARENTS = ("resources", "data-sources")


def plan_creates(tf: Terraform, aws: Emulator, expected: set[str]) -> dict:
    """Plans a fresh example: exactly `expected` resources, each to be created; the plan
    writes nothing to AWS."""
    aws.proxy.clear()
    plan = tf.plan_json()
    assert aws.writes() == [], f"plan wrote to AWS: {aws.writes()}"
    actions = planned_actions(plan)
    assert actions == {a: ("create",) for a in expected}, actions
    return plan


def values_of(tf: Terraform) -> dict[str, dict]:
    return {a: r["values"] for a, r in state_resources(tf.show_json()).items()}


def destroy_and_check(tf: Terraform, view: AwsView, systems: dict[str, bool]) -> None:
    """Destroys, then: nothing of each system is left but, when retained (`systems`:
    name -> retain_storage), exactly its storage."""
    tf.destroy()
    assert tf.state_list() == []
    for system, retained in systems.items():
        assert_nothing_left(view, system, retained_storage=retained)


def import_and_replan(tf: Terraform, aws: Emulator) -> None:
    """Imports every resource by its documented id: the same state as before (including
    retain_storage, which the provider records on AWS as a tag), then the plan is still
    empty and writes nothing."""
    import_round_trip(tf, ignore=("timeouts",))
    assert_replan_empty(tf, aws)


# --------------------------------------------------------------------------------------
# The examples are valid, formatted Terraform
# --------------------------------------------------------------------------------------


def test_examples_are_formatted() -> None:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
           "TF_CLI_CONFIG_FILE": "/dev/null", "CHECKPOINT_DISABLE": "1"}
    res = subprocess.run(["terraform", "fmt", "-check", "-recursive", "-diff", "examples"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 0, f"terraform fmt -check -recursive examples:\n{res.stdout}\n{res.stderr}"


def example_dirs() -> list[str]:
    """Every directory under examples/ holding .tf files, as a path relative to it."""
    return sorted({p.parent.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.tf")
                   if not any(part.startswith(".") for part in p.relative_to(EXAMPLES).parts)})


def example_kind(path: str) -> str:
    """"snippet" (a documentation snippet: resources/<type>, data-sources/<type>),
    "root" (a root module: it configures the provider) or "module" (a child module)."""
    if path.split("/")[0] in SNIPPET_PARENTS:
        return "snippet"
    text = "\n".join(p.read_text() for p in (EXAMPLES / path).glob("*.tf"))
    return "root" if re.search(r'^provider "datomic"', text, re.MULTILINE) else "module"


def test_every_example_root_is_tested() -> None:
    """Every root module under examples/ is listed here: a topology example gets the
    header checks of test_example_validates and its own end-to-end test below. Every
    child module is used by an example."""
    dirs = example_dirs()
    roots = [d for d in dirs if example_kind(d) == "root"]
    assert sorted(roots) == sorted(EXAMPLE_ROOTS + OTHER_ROOTS), \
        "a root module under examples/ is missing from EXAMPLE_ROOTS/OTHER_ROOTS (or listed but gone)"
    used = set().union(*(local_module_dirs(EXAMPLES / r) for r in roots))
    for module in (d for d in dirs if example_kind(d) == "module"):
        assert (EXAMPLES / module).resolve() in used, f"examples/{module} is used by no example"
    assert {d.split("/")[0] for d in dirs if example_kind(d) == "snippet"} == set(SNIPPET_PARENTS)


@pytest.mark.parametrize("path", example_dirs())
def test_example_validates(path: str, make_tf: MakeTf, tmp_path: Path) -> None:
    """Every directory of examples/ with .tf files passes `terraform validate` (no AWS
    needed; `terraform get` installs local modules): root modules as they are (the
    topology examples also have a header naming their objective and a provider block
    pointing every endpoint at var.aws_endpoint, null by default: real AWS), child
    modules on their own (they declare their required providers), documentation
    snippets together with examples/provider/provider.tf (their terraform and provider
    blocks). Nothing but the dev_overrides warning may be reported."""
    kind = example_kind(path)
    tf = make_tf(path)
    if kind == "snippet":
        for src in (EXAMPLES / "provider" / "provider.tf", *sorted((EXAMPLES / path).glob("*.tf"))):
            assert not (tf.workdir / src.name).exists(), f"examples/{path}/{src.name} clashes with provider.tf"
            shutil.copy(src, tf.workdir / src.name)
    else:  # the whole top folder, so that relative module sources resolve
        top = path.split("/")[0]
        copy_example(top, tmp_path / top)
    if path in EXAMPLE_ROOTS:
        text = (tf.workdir / "main.tf").read_text()
        header = text.split("\n\n", 1)[0]
        assert header.startswith("# ") and "Objective" in header, f"examples/{path}/main.tf: no header naming its objective"
        flat = " ".join(text.split())
        for needle in ('source = "datomic-community/datomic"', 'variable "aws_endpoint" { type = string default = null }',
                       'region = "us-east-1"', "skip_credentials_validation = true", "skip_requesting_account_id = true"):
            assert needle in flat, f"examples/{path}/main.tf lacks {needle!r}"
        for service in ("ec2", "iam", "autoscaling", "s3", "dynamodb", "sts", "elbv2", "route53", "kms", "logs", "efs"):
            assert any(line.split() == [service, "=", "var.aws_endpoint"] for line in text.splitlines()), \
                f"examples/{path}/main.tf: endpoint {service} is not var.aws_endpoint"
    if local_module_dirs(tf.workdir):
        tf.init()  # `terraform get`
    doc = tf.validate_json()
    assert doc["valid"], doc
    others = [d for d in doc.get("diagnostics", []) if Diagnostic.DEV_OVERRIDES not in d["summary"]]
    assert others == [], f"examples/{path}: terraform validate reports {others}"


# --------------------------------------------------------------------------------------
# One test per example
# --------------------------------------------------------------------------------------


@pytest.mark.aws
def test_solo_getting_started(make_tf: MakeTf, aws: Emulator) -> None:
    """examples/solo: one t2.small node; destroy keeps the storage (default) and a new
    system of the same name adopts it (same VPC, same bucket)."""
    view = AwsView(aws)
    tf = example_tf(make_tf, aws, "solo")
    plan = plan_creates(tf, aws, {"datomic_system.main"})
    after = resource_change(plan, "datomic_system.main")["after"]
    assert (after["instance_type"], after["node_count"], after["retain_storage"]) == ("t2.small", 1, True)

    tf.apply()
    s = values_of(tf)["datomic_system.main"]
    assert (s["topology"], s["instance_type"], s["node_count"], s["application_name"]) == ("solo", "t2.small", 1, "starter")
    check_storage(view, s)
    g = check_group(view, "starter", "primary", instance_type="t2.small", sizes=(1, 1, 1),
                    application="starter", topology="solo", endpoint=s["load_balancer_dns_name"])
    assert g.tags.get("Stage") == "development"
    assert tf.outputs()["system"]["autoscaling_group_name"] == "starter--primary"

    assert_replan_empty(tf, aws)
    import_and_replan(tf, aws)

    destroy_and_check(tf, view, {"starter": True})

    # A new system of the same name adopts the retained storage: no data lost.
    tf.apply()
    again = values_of(tf)["datomic_system.main"]
    assert (again["vpc_id"], again["bucket_name"], again["table_name"], sorted(again["subnet_ids"])) == \
        (s["vpc_id"], s["bucket_name"], s["table_name"], sorted(s["subnet_ids"]))
    check_storage(view, again)
    check_group(view, "starter", "primary", instance_type="t2.small", sizes=(1, 1, 1), application="starter")
    destroy_and_check(tf, view, {"starter": True})


@pytest.mark.aws
def test_production(make_tf: MakeTf, aws: Emulator) -> None:
    """examples/production: two i3.large primary nodes over the system's subnets."""
    view = AwsView(aws)
    tf = example_tf(make_tf, aws, "production")
    plan_creates(tf, aws, {"datomic_system.main"})
    tf.apply()
    s = values_of(tf)["datomic_system.main"]
    assert (s["topology"], s["instance_type"], s["node_count"]) == ("production", "i3.large", 2)
    check_storage(view, s)
    g = check_group(view, "acme", "primary", instance_type="i3.large", sizes=(2, 2, 2),
                    application="acme", topology="production", endpoint=s["load_balancer_dns_name"])
    assert sorted(g.asg["VPCZoneIdentifier"].split(",")) == sorted(s["subnet_ids"])
    assert g.tags.get("Stage") == "production"
    assert_replan_empty(tf, aws)
    import_and_replan(tf, aws)
    destroy_and_check(tf, view, {"acme": True})


STAGES = {"dev": "r57", "staging": "r55", "prod": "r53"}


@pytest.mark.aws
def test_stages(make_tf: MakeTf, aws: Emulator) -> None:
    """examples/stages: query groups dev, staging and prod running the same application
    "web", each its own revision, database (parameters) and IAM policy."""
    view = AwsView(aws)
    tf = example_tf(make_tf, aws, "stages", pushed={"web": STAGES.values()})
    plan_creates(tf, aws, {"datomic_system.main"}
                 | {f'datomic_query_group.stage["{s}"]' for s in STAGES}
                 | {f'datomic_application.web["{s}"]' for s in STAGES})
    tf.apply()
    values = values_of(tf)
    check_storage(view, values["datomic_system.main"])
    check_group(view, "stages", "primary", instance_type="i3.large", sizes=(2, 2, 2), application="stages",
                endpoint=values["datomic_system.main"]["load_balancer_dns_name"])
    for stage, revision in STAGES.items():
        qg = values[f'datomic_query_group.stage["{stage}"]']
        assert (qg["id"], qg["application_name"], qg["autoscaling_group_name"]) == \
            (f"stages/{stage}", "web", f"stages--{stage}")
        g = check_group(view, "stages", stage, instance_type="t2.medium", sizes=(1, 1, 1), application="web",
                        parameters={"DATOMIC_DB_NAME": f"web-{stage}"}, revision=revision, endpoint=qg["load_balancer_dns_name"])
        assert g.tags.get("Stage") == stage
        app = values[f'datomic_application.web["{stage}"]']
        assert app["id"] == f"stages/{stage}/web"
        assert app["launch_template_version"] == g.template_version
        policy = view.role_policy(f"stages--{stage}-node", "datomic-app-web")
        assert policy is not None, f"no inline policy datomic-app-web on stages--{stage}-node"
        assert policy["Statement"][0]["Resource"] == f"arn:aws:sqs:us-east-1:123456789012:web-{stage}-events"
        assert json_equal(policy, json.loads(app["iam_policy"]))
    # the primary group runs its own application, without web's policy
    assert "datomic-app-web" not in view.role_policy_names("stages--primary-node")
    out = tf.outputs()["stages"]
    assert out["dev"] == {"autoscaling_group_name": "stages--dev", "database": "web-dev", "revision": "r57"}

    assert_replan_empty(tf, aws)
    import_and_replan(tf, aws)
    destroy_and_check(tf, view, {"stages": True})


STAGE_MODULE_CALLS = {  # stage -> instance type, nodes, revision, extra parameters
    "dev": ("t2.medium", 1, "r57", {}),
    "test": ("t2.medium", 1, "r56", {"LOG_LEVEL": "debug"}),
    "staging": ("m5.large", 2, "r55", {}),
}


@pytest.mark.aws
def test_stages_module(make_tf: MakeTf, aws: Emulator) -> None:
    """examples/stages-module: the reusable module examples/modules/stage called three
    times (dev, test, staging) on one production system: each call a query group running
    "web" with its own revision, database, size and (staging) IAM policy."""
    view = AwsView(aws)
    tf = example_tf(make_tf, aws, "stages-module",
                    pushed={"web": [c[2] for c in STAGE_MODULE_CALLS.values()]})
    assert (tf.workdir.parent / "modules" / "stage" / "main.tf").is_file(), "the module was not copied beside the example"
    plan_creates(tf, aws, {"datomic_system.main"}
                 | {f"module.{s}.datomic_{r}.this" for s in STAGE_MODULE_CALLS for r in ("query_group", "application")})
    tf.apply()
    values = values_of(tf)
    check_storage(view, values["datomic_system.main"])
    check_group(view, "web-stages", "primary", instance_type="i3.large", sizes=(2, 2, 2), application="web-stages",
                endpoint=values["datomic_system.main"]["load_balancer_dns_name"])
    out = tf.outputs()["stages"]
    assert sorted(out) == sorted(STAGE_MODULE_CALLS)
    for stage, (itype, nodes, revision, extra) in STAGE_MODULE_CALLS.items():
        qg = values[f"module.{stage}.datomic_query_group.this"]
        app = values[f"module.{stage}.datomic_application.this"]
        assert (qg["id"], qg["application_name"], qg["autoscaling_group_name"]) == \
            (f"web-stages/{stage}", "web", f"web-stages--{stage}")
        assert (app["id"], app["compute_group"], app["revision"]) == (f"web-stages/{stage}/web", stage, revision)
        g = check_group(view, "web-stages", stage, instance_type=itype, sizes=(nodes, nodes, nodes), application="web",
                        parameters={"DATOMIC_DB_NAME": f"web-{stage}", **extra}, revision=revision,
                        endpoint=qg["load_balancer_dns_name"])
        assert g.tags.get("Stage") == stage
        assert app["launch_template_version"] == g.template_version
        assert out[stage] == {"endpoint": qg["endpoint"], "autoscaling_group_name": f"web-stages--{stage}",
                              "database": f"web-{stage}", "revision": revision}
    # only staging has permissions of its own
    policy = view.role_policy("web-stages--staging-node", "datomic-app-web")
    assert policy is not None and policy["Statement"][0]["Resource"] == \
        "arn:aws:sqs:us-east-1:123456789012:web-staging-events", policy
    for stage in ("dev", "test"):
        assert "datomic-app-web" not in view.role_policy_names(f"web-stages--{stage}-node")

    assert_replan_empty(tf, aws)
    ids = import_round_trip(tf, ignore=("timeouts",))
    assert ids["module.dev.datomic_application.this"] == "web-stages/dev/web"
    assert_replan_empty(tf, aws)
    destroy_and_check(tf, view, {"web-stages": True})


@pytest.mark.aws
def test_autoscaling(make_tf: MakeTf, aws: Emulator) -> None:
    """examples/autoscaling: a query group of the same application as the primary group,
    min 2 max 6, desired unset (= min_size); AWS scaling it later is not drift."""
    view = AwsView(aws)
    tf = example_tf(make_tf, aws, "autoscaling")
    plan = plan_creates(tf, aws, {"datomic_system.main", "datomic_query_group.web"})
    planned = resource_change(plan, "datomic_query_group.web")["after"]
    assert (planned["min_size"], planned["max_size"], planned["autoscaling"]) == (2, 6, {"target_cpu_utilization": 60})
    tf.apply()
    values = values_of(tf)
    check_group(view, "elastic", "primary", instance_type="i3.large", sizes=(2, 2, 2), application="web",
                endpoint=values["datomic_system.main"]["load_balancer_dns_name"])
    check_group(view, "elastic", "web", instance_type="m5.large", sizes=(2, 6, 2), application="web",
                parameters={"DATOMIC_DB_NAME": "web"}, endpoint=values["datomic_query_group.web"]["load_balancer_dns_name"],
                target_cpu=60)
    assert values["datomic_query_group.web"]["desired_capacity"] == 2
    assert_replan_empty(tf, aws)

    # AWS scales the group out (as a scaling policy would): not drift, nothing planned.
    view.asg.set_desired_capacity(AutoScalingGroupName="elastic--web", DesiredCapacity=4)
    assert view.group("elastic", "web").sizes == (2, 6, 4)
    assert_replan_empty(tf, aws)
    tf.apply("-refresh-only")
    assert values_of(tf)["datomic_query_group.web"]["desired_capacity"] == 4
    assert_replan_empty(tf, aws)

    import_and_replan(tf, aws)
    destroy_and_check(tf, view, {"elastic": False})


@pytest.mark.aws
def test_multiple_applications(make_tf: MakeTf, aws: Emulator) -> None:
    """examples/multiple-applications: an "analysis" query group with its own
    application name on one i3.xlarge, with its own revision and IAM policy."""
    view = AwsView(aws)
    tf = example_tf(make_tf, aws, "multiple-applications", pushed={"analysis": ["a1b2c3d"]})
    plan_creates(tf, aws, {"datomic_system.main", "datomic_query_group.analysis", "datomic_application.analysis"})
    tf.apply()
    values = values_of(tf)
    check_group(view, "multi", "primary", instance_type="i3.large", sizes=(2, 2, 2), application="multi",
                endpoint=values["datomic_system.main"]["load_balancer_dns_name"])
    g = check_group(view, "multi", "analysis", instance_type="i3.xlarge", sizes=(1, 1, 1), application="analysis",
                    parameters={"DATOMIC_DB_NAME": "events"}, revision="a1b2c3d",
                    endpoint=values["datomic_query_group.analysis"]["load_balancer_dns_name"])
    assert values["datomic_application.analysis"]["launch_template_version"] == g.template_version
    policy = view.role_policy("multi--analysis-node", "datomic-app-analysis")
    assert policy is not None and policy["Statement"][0]["Action"] == ["s3:GetObject", "s3:ListBucket"], policy
    assert view.role_policy_names("multi--primary-node") == ["datomic-node"] or \
        "datomic-app-analysis" not in view.role_policy_names("multi--primary-node")
    assert tf.outputs()["applications"] == {"multi--primary": "multi", "multi--analysis": "analysis"}
    assert_replan_empty(tf, aws)
    import_and_replan(tf, aws)
    destroy_and_check(tf, view, {"multi": False})
    assert view.role_policy("multi--analysis-node", "datomic-app-analysis") is None


@pytest.mark.aws
def test_separate_production(make_tf: MakeTf, aws: Emulator) -> None:
    """examples/separate-production: two production systems, each its own root
    configuration and state directory, with the same application names. Changing or
    destroying one never touches the other."""
    view = AwsView(aws)
    expected = {"module.production.datomic_system.this", "module.production.datomic_application.web",
                "module.production.datomic_query_group.reports", "module.production.datomic_application.reports"}
    tfs = {s: example_tf(make_tf, aws, "separate-production", root=f"system-{s}",
                           pushed={"web": ["r53", "r52"], "reports": ["r7"]}) for s in ("a", "b")}
    revisions = {"a": "r53", "b": "r52"}
    for s, tf in tfs.items():
        plan_creates(tf, aws, expected)
        tf.apply()
        assert (tf.workdir / "terraform.tfstate").is_file()
    assert tfs["a"].workdir != tfs["b"].workdir
    for s, tf in tfs.items():
        system = f"prod-{s}"
        values = values_of(tf)
        assert {v.get("system", v.get("name")) for v in values.values()} == {system}, "one system per state"
        check_storage(view, values["module.production.datomic_system.this"])
        check_group(view, system, "primary", instance_type="i3.large", sizes=(2, 2, 2), application="web",
                    revision=revisions[s], endpoint=values["module.production.datomic_system.this"]["load_balancer_dns_name"])
        check_group(view, system, "reports", instance_type="t2.medium", sizes=(1, 1, 1), application="reports",
                    parameters={"DATOMIC_DB_NAME": f"{system}-reports"}, revision="r7",
                    endpoint=values["module.production.datomic_query_group.reports"]["load_balancer_dns_name"])
        assert tf.outputs()["system"] == {"name": system,
                                          "autoscaling_groups": [f"{system}--primary", f"{system}--reports"]}
    # the two systems share no storage
    va, vb = (values_of(tfs[s])["module.production.datomic_system.this"] for s in ("a", "b"))
    assert va["vpc_id"] != vb["vpc_id"] and va["bucket_name"] != vb["bucket_name"]
    for tf in tfs.values():
        assert_replan_empty(tf, aws)
    for tf in tfs.values():
        import_and_replan(tf, aws)

    # Destroying system A leaves system B as it was.
    destroy_and_check(tfs["a"], view, {"prod-a": True})
    check_group(view, "prod-b", "primary", instance_type="i3.large", sizes=(2, 2, 2), application="web", revision="r52")
    check_group(view, "prod-b", "reports", instance_type="t2.medium", sizes=(1, 1, 1), application="reports",
                parameters={"DATOMIC_DB_NAME": "prod-b-reports"}, revision="r7")
    assert_replan_empty(tfs["b"], aws)
    destroy_and_check(tfs["b"], view, {"prod-b": True})


STATE_BUCKET = "terraform-state"
STATE_KEYS = {"a": "datomic/isolated-a.tfstate", "b": "datomic/isolated-b.tfstate"}


def state_objects(view: AwsView) -> dict[str, dict]:
    """The state documents in the emulator's state bucket, by key."""
    keys = [o["Key"] for o in view.s3.list_objects_v2(Bucket=STATE_BUCKET).get("Contents", [])]
    return {k: json.loads(view.s3.get_object(Bucket=STATE_BUCKET, Key=k)["Body"].read()) for k in keys}


def state_doc_resources(doc: dict) -> dict[str, list[dict]]:
    """{"<mode>.<type>.<name>": [instance attributes]} of a raw state document."""
    return {f"{r['mode']}.{r['type']}.{r['name']}": [i["attributes"] for i in r["instances"]]
            for r in doc.get("resources", [])}


@pytest.mark.aws
def test_separate_state_in_s3(make_tf: MakeTf, aws: Emulator, provider_mirror) -> None:
    """examples/separate-state: two production systems, each its own root configuration
    with its own state in an S3 backend (the emulator's, bucket made here; `terraform
    init` with a partial backend configuration, the provider installed from a mirror).
    Both deploy an application named "web"; system-b reads system-a's system only
    through the datomic_system data source. Neither state holds the other's objects,
    nothing is kept locally, and destroying b leaves a as it was."""
    view = AwsView(aws)
    view.s3.create_bucket(Bucket=STATE_BUCKET)
    tfs = {s: example_tf(make_tf, aws, "separate-state", root=f"system-{s}", mode="mirror",
                         pushed={"web": ["r53", "r52"]},
                         mirror_dir=provider_mirror, backend_config=aws.s3_backend_config(STATE_BUCKET, key))
           for s, key in STATE_KEYS.items()}
    assert state_objects(view) == {}, "terraform init wrote state"

    # b follows a system that does not exist yet: refused at plan, nothing written
    aws.proxy.clear()
    res = tfs["b"].plan()
    assert not res.ok and "No matching Datomic system found" in res.stdout + res.stderr, res.describe()
    assert aws.writes() == []

    plan_creates(tfs["a"], aws, {"datomic_system.this", "datomic_application.web"})
    tfs["a"].apply()
    a_state = view.s3.head_object(Bucket=STATE_BUCKET, Key=STATE_KEYS["a"])["ETag"]
    plan = plan_creates(tfs["b"], aws, {"datomic_system.this", "datomic_application.web"})
    after = resource_change(plan, "datomic_system.this")["after"]
    assert (after["application_name"], after["instance_type"], after["node_count"]) == ("web", "i3.large", 2)
    tfs["b"].apply()

    # the state lives in S3 only, one object per root, each with its own system only
    for tf in tfs.values():
        assert not (tf.workdir / "terraform.tfstate").exists(), f"{tf.workdir}: local state"
        backend = json.loads((tf.workdir / ".terraform" / "terraform.tfstate").read_text())["backend"]
        assert backend["type"] == "s3", backend
    docs = state_objects(view)
    assert sorted(docs) == sorted(STATE_KEYS.values()), f"state bucket holds {sorted(docs)} (a lock file left?)"
    ra, rb = (state_doc_resources(docs[STATE_KEYS[s]]) for s in ("a", "b"))
    assert sorted(ra) == ["managed.datomic_application.web", "managed.datomic_system.this"], sorted(ra)
    assert sorted(rb) == ["data.datomic_system.reference", "managed.datomic_application.web",
                          "managed.datomic_system.this"], sorted(rb)
    assert [i["name"] for i in ra["managed.datomic_system.this"]] == ["isolated-a"]
    assert [i["name"] for i in rb["managed.datomic_system.this"]] == ["isolated-b"]
    assert [i["name"] for i in rb["data.datomic_system.reference"]] == ["isolated-a"]
    # the same application name in both states, a deployment of its own in each
    assert [i["id"] for i in ra["managed.datomic_application.web"]] == ["isolated-a/primary/web"]
    assert [i["id"] for i in rb["managed.datomic_application.web"]] == ["isolated-b/primary/web"]
    assert view.s3.head_object(Bucket=STATE_BUCKET, Key=STATE_KEYS["a"])["ETag"] == a_state, \
        "applying system-b wrote system-a's state"

    values = {s: values_of(tf) for s, tf in tfs.items()}
    for s, revision in (("a", "r53"), ("b", "r52")):
        system = values[s]["datomic_system.this"]
        check_storage(view, system)
        g = check_group(view, f"isolated-{s}", "primary", instance_type="i3.large", sizes=(2, 2, 2),
                        application="web", revision=revision, topology="production", endpoint=system["load_balancer_dns_name"])
        assert values[s]["datomic_application.web"]["launch_template_version"] == g.template_version
    assert view.group("isolated-b", "primary").tags.get("Follows") == "isolated-a"
    va, vb = values["a"]["datomic_system.this"], values["b"]["datomic_system.this"]
    assert va["vpc_id"] != vb["vpc_id"] and va["bucket_name"] != vb["bucket_name"]
    ref = tfs["b"].outputs()["reference_system"]
    assert ref == {"name": "isolated-a", "application_name": "web", "vpc_id": va["vpc_id"],
                   "subnet_ids": va["subnet_ids"], "endpoint": va["endpoint"]}, ref

    for tf in tfs.values():
        assert_replan_empty(tf, aws)

    # b first (its destroy reads a through the data source), a as it was, then a
    destroy_and_check(tfs["b"], view, {"isolated-b": True})
    check_group(view, "isolated-a", "primary", instance_type="i3.large", sizes=(2, 2, 2), application="web",
                revision="r53")
    assert view.s3.head_object(Bucket=STATE_BUCKET, Key=STATE_KEYS["a"])["ETag"] == a_state
    assert_replan_empty(tfs["a"], aws)
    destroy_and_check(tfs["a"], view, {"isolated-a": True})
    docs = state_objects(view)
    assert sorted(docs) == sorted(STATE_KEYS.values())
    assert all(not state_doc_resources(d) for d in docs.values()), "resources left in a state after destroy"


TX_FUNCTIONS = ["tx.accounts/transfer", "tx.counters/inc"]
TX_SYSTEMS = {"orders": ("production", "i3.large", 2), "billing": ("solo", "t2.small", 1)}


def check_tx(view: AwsView, tf: Terraform, revision: str) -> dict:
    values = values_of(tf)
    groups = {}
    for system, (topology, itype, n) in TX_SYSTEMS.items():
        assert values[f'datomic_system.this["{system}"]']["application_name"] == "tx"
        app = values[f'datomic_application.tx["{system}"]']
        assert (app["id"], app.get("compute_group")) == (f"{system}/primary/tx", None)
        g = check_group(view, system, "primary", instance_type=itype, sizes=(n, n, n), application="tx",
                        revision=revision, transaction_functions=TX_FUNCTIONS, topology=topology,
                        endpoint=values[f'datomic_system.this["{system}"]']["load_balancer_dns_name"])
        assert app["launch_template_version"] == g.template_version
        groups[system] = g
    return groups


@pytest.mark.aws
def test_transaction_functions(make_tf: MakeTf, aws: Emulator) -> None:
    """examples/transaction-functions: the shared "tx" application with transaction
    functions, deployed to the primary compute group of two systems."""
    view = AwsView(aws)
    tf = example_tf(make_tf, aws, "transaction-functions", pushed={"tx": ["3f2c9a1"]})
    plan_creates(tf, aws, {f"datomic_{k}.{n}[\"{s}\"]" for s in TX_SYSTEMS
                           for k, n in (("system", "this"), ("application", "tx"))})
    tf.apply()
    check_tx(view, tf, "3f2c9a1")
    out = tf.outputs()["tx_deployments"]
    assert {k: (v["autoscaling_group_name"], v["revision"]) for k, v in out.items()} == \
        {"orders": ("orders--primary", "3f2c9a1"), "billing": ("billing--primary", "3f2c9a1")}
    assert_replan_empty(tf, aws)
    import_and_replan(tf, aws)
    destroy_and_check(tf, view, {"orders": True, "billing": True})


@pytest.mark.aws
def test_demo(make_tf: MakeTf, aws: Emulator) -> None:
    """examples/demo (what scripts/demo applies): a production system running "tx" with
    transaction functions, a "stage" query group and an autoscaled "web" query group."""
    view = AwsView(aws)
    tf = example_tf(make_tf, aws, "demo", pushed={"tx": ["3f2c9a1"], "web": ["r54", "r53"]})
    plan_creates(tf, aws, {"datomic_system.demo", "datomic_application.tx", "datomic_query_group.stage",
                           "datomic_application.web_stage", "datomic_query_group.web", "datomic_application.web"})
    tf.apply()
    values = values_of(tf)
    check_storage(view, values["datomic_system.demo"])
    check_group(view, "demo", "primary", instance_type="i3.large", sizes=(2, 2, 2), application="tx",
                revision="3f2c9a1", transaction_functions=TX_FUNCTIONS, endpoint=values["datomic_system.demo"]["load_balancer_dns_name"])
    check_group(view, "demo", "stage", instance_type="t2.medium", sizes=(1, 1, 1), application="web",
                parameters={"DATOMIC_DB_NAME": "web-stage"}, revision="r54",
                endpoint=values["datomic_query_group.stage"]["load_balancer_dns_name"])
    check_group(view, "demo", "web", instance_type="m5.large", sizes=(2, 4, 2), application="web",
                parameters={"DATOMIC_DB_NAME": "web"}, revision="r53", endpoint=values["datomic_query_group.web"]["load_balancer_dns_name"],
                target_cpu=60)
    groups = tf.outputs()["compute_groups"]
    assert {k: v["autoscaling_group_name"] for k, v in groups.items()} == \
        {"primary": "demo--primary", "stage": "demo--stage", "web": "demo--web"}
    assert groups["primary"]["nodes"] == 2 and groups["web"]["nodes"] == "2-4"
    assert_replan_empty(tf, aws)
    import_and_replan(tf, aws)
    destroy_and_check(tf, view, {"demo": False})


# --------------------------------------------------------------------------------------
# Changes: upgrade in place, new revision
# --------------------------------------------------------------------------------------


@pytest.mark.aws
def test_upgrade_solo_to_production_in_place(make_tf: MakeTf, aws: Emulator) -> None:
    """examples/solo, then topology = "production" as examples/production's header
    says: an update in place (not a replacement) to 2 i3.large nodes, on the same
    storage; the solo node is replaced."""
    view = AwsView(aws)
    tf = example_tf(make_tf, aws, "solo")
    tf.apply()
    before = values_of(tf)["datomic_system.main"]
    old_nodes = {i["InstanceId"] for i in view.group("starter", "primary").instances}

    replace_in_main(tf, '\n  topology = "solo"\n', '\n  topology = "production"\n')
    aws.proxy.clear()
    plan = tf.plan_json()
    assert aws.writes() == []
    assert planned_actions(plan) == {"datomic_system.main": ("update",)}
    change = resource_change(plan, "datomic_system.main")
    assert change["before"]["topology"] == "solo" and change["after"]["topology"] == "production"
    assert (change["after"]["instance_type"], change["after"]["node_count"]) == ("i3.large", 2)
    assert not change.get("replace_paths"), change.get("replace_paths")

    tf.apply()
    after = values_of(tf)["datomic_system.main"]
    assert (after["topology"], after["instance_type"], after["node_count"]) == ("production", "i3.large", 2)
    for k in ("vpc_id", "bucket_name", "table_name", "subnet_ids", "launch_template_id", "security_group_id"):
        assert after[k] == before[k], f"{k} changed in an in-place upgrade: {before[k]} -> {after[k]}"
    check_storage(view, after)
    g = check_group(view, "starter", "primary", instance_type="i3.large", sizes=(2, 2, 2),
                    application="starter", topology="production")
    assert not old_nodes & {i["InstanceId"] for i in g.instances}, "the t2.small node was not replaced"
    assert_replan_empty(tf, aws)

    # And back is refused at plan time, writing nothing.
    replace_in_main(tf, '\n  topology = "production"\n', '\n  topology = "solo"\n')
    aws.proxy.clear()
    res = tf.plan("-json")
    assert res.rc != 0
    assert any(d.severity == "error" and "production system to solo" in d.summary for d in res.diagnostics()), res.describe()
    assert aws.writes() == []


@pytest.mark.aws
def test_application_revision_change(make_tf: MakeTf, aws: Emulator) -> None:
    """examples/transaction-functions with a new tx_revision (pushed first, as ion push
    would): both applications update in place, each with one CodeDeploy deployment of
    the new revision's zip; no node is replaced and the launch templates stay as they
    were (the code is CodeDeploy's, not the template's)."""
    view = AwsView(aws)
    tf = example_tf(make_tf, aws, "transaction-functions", pushed={"tx": ["3f2c9a1", "4b1d2e0"]})
    tf.apply()
    old = check_tx(view, tf, "3f2c9a1")
    old_nodes = {s: {i["InstanceId"] for i in g.instances} for s, g in old.items()}

    aws.proxy.clear()
    plan = tf.plan_json("-var", "tx_revision=4b1d2e0")
    assert aws.writes() == []
    assert planned_actions(plan) == {
        **{f'datomic_system.this["{s}"]': ("no-op",) for s in TX_SYSTEMS},
        **{f'datomic_application.tx["{s}"]': ("update",) for s in TX_SYSTEMS},
    }
    for s in TX_SYSTEMS:
        ch = resource_change(plan, f'datomic_application.tx["{s}"]')
        assert (ch["before"]["revision"], ch["after"]["revision"]) == ("3f2c9a1", "4b1d2e0")

    aws.proxy.clear()
    tf.apply("-var", "tx_revision=4b1d2e0")
    deploys = [c for c in aws.calls("codedeploy") if c.action == "CreateDeployment"]
    assert len(deploys) == len(TX_SYSTEMS), deploys
    new = check_tx(view, tf, "4b1d2e0")  # CodeDeploy runs the new revision on each group
    for s, g in new.items():
        assert g.template_version == old[s].template_version
        assert old_nodes[s] == {i["InstanceId"] for i in g.instances}, f"{s}: nodes were replaced"
    assert_replan_empty(tf, aws, "-var", "tx_revision=4b1d2e0")
    destroy_and_check(tf, view, {"orders": True, "billing": True})


@pytest.mark.aws
def test_import_recovers_retain_storage_false(make_tf: MakeTf, aws: Emulator) -> None:
    """A system created with retain_storage = false and imported again has
    retain_storage = false in its state: "import gives the same state" (DESIGN.md: import
    takes the same ids), and a destroy right after the import deletes the storage as the
    configuration says, rather than silently keeping it."""
    tf = example_tf(make_tf, aws, "autoscaling")
    tf.apply("-target", "datomic_system.main")
    assert values_of(tf)["datomic_system.main"]["retain_storage"] is False
    tf.run("state", "rm", "datomic_system.main", check=True)
    tf.import_("datomic_system.main", "elastic")
    assert values_of(tf)["datomic_system.main"]["retain_storage"] is False
