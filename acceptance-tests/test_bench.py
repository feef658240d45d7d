"""The benchmark's own tools (bench/), so that what bench/run reports can be trusted:

- the plugin floor (bench/floor_provider.rs) is a provider that converges like ours must:
  plan, apply, a plan with no changes, a refresh with no differences, an update, destroy;
- CachedAws answers a read it has seen from memory, and never a write;
- the strict time model's part (`--strict-only`) reports apply and destroy against a
  critical path computed from the strict layer's own durations.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import REGION, REPO_ROOT, VENV, Emulator, Terraform
from strict_aws import Strict

sys.path.insert(0, str(REPO_ROOT / "bench"))
import bench  # noqa: E402


@pytest.fixture(scope="module")
def floor_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin floor, built (debug) and named as Terraform's dev_overrides look for it."""
    res = subprocess.run(["cargo", "build", "--example", bench.FLOOR_EXAMPLE], cwd=REPO_ROOT,
                         stdin=subprocess.DEVNULL, timeout=1800)
    built = REPO_ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "debug" / "examples" / bench.FLOOR_EXAMPLE
    if res.returncode != 0 or not built.is_file():
        pytest.fail(f"cargo build --example {bench.FLOOR_EXAMPLE} failed ({res.returncode})", pytrace=False)
    named = tmp_path_factory.mktemp("floor") / "terraform-provider-floor"
    shutil.copy2(built, named)
    return named


def test_plugin_floor_converges(tmp_path: Path, floor_binary: Path) -> None:
    tf = Terraform(tmp_path / "tf", floor_binary, None)
    bench.use_floor_provider(tf, floor_binary)
    both = bench.FLOOR_TERRAFORM_BLOCK + bench.floor_resources(3) + bench.floor_resources(3, schema_of_ours=True)
    tf.write(both)
    plan = tf.plan_json()
    creates = sorted(rc["address"] for rc in plan["resource_changes"] if rc["change"]["actions"] == ["create"])
    assert creates == [*(f"floor_data.d{i}" for i in range(3)), *(f"floor_query_group.g{i}" for i in range(3))]
    tf.apply()
    assert tf.plan("-detailed-exitcode").rc == 0
    res = tf.plan("-refresh-only")
    assert res.ok and "found no differences" in res.stdout, res.describe()
    values = {r["address"]: r["values"] for r in tf.show_json()["values"]["root_module"]["resources"]}
    assert values["floor_data.d1"]["output"] == "g1", values["floor_data.d1"]
    assert values["floor_query_group.g1"]["name"] == "g1", values["floor_query_group.g1"]

    tf.write(both.replace('input = "g1"', 'input = "changed"'))
    plan = tf.plan_json()
    changed = {rc["address"]: rc["change"]["actions"] for rc in plan["resource_changes"]
               if rc["change"]["actions"] != ["no-op"]}
    assert changed == {"floor_data.d1": ["update"]}, changed
    tf.apply()
    assert tf.plan("-detailed-exitcode").rc == 0
    tf.destroy()
    assert tf.state_list() == []


@pytest.mark.aws
def test_cached_aws_answers_reads_from_memory_and_forwards_writes(aws: Emulator) -> None:
    cached = bench.CachedAws(aws.direct_url)
    try:
        import boto3

        ec2 = boto3.client("ec2", endpoint_url=cached.url, region_name=REGION,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        first = ec2.describe_vpcs()["Vpcs"]
        assert (cached.calls, cached.forwarded) == (1, 1)
        assert ec2.describe_vpcs()["Vpcs"] == first
        assert (cached.calls, cached.forwarded) == (2, 1), "a read seen before was forwarded again"
        for _ in range(2):
            ec2.create_vpc(CidrBlock="10.9.0.0/16")
        assert cached.forwarded == 3, "a write was answered from memory"
        assert ec2.describe_vpcs()["Vpcs"] == first, "the kept answer is the one of that time"
        cached.forget()
        assert len(ec2.describe_vpcs()["Vpcs"]) == len(first) + 2
        assert cached.forwarded == 4
    finally:
        cached.stop()


def test_critical_paths_come_from_the_strict_layer_s_durations() -> None:
    apply, destroy = bench.critical_paths(Strict())
    assert apply.seconds > 0 and destroy.seconds > 0
    assert all(step for step in apply.steps + destroy.steps)
    # every duration doubled: both paths double (nothing fixed in between)
    doubled = bench.scaled(Strict(), 2)
    assert all(getattr(doubled, f) == 2 * getattr(Strict(), f) for f in bench.DURATIONS)
    assert doubled.policy_propagation and doubled.validation  # only durations change
    a2, d2 = bench.critical_paths(doubled)
    assert (a2.seconds, d2.seconds) == pytest.approx((2 * apply.seconds, 2 * destroy.seconds))
    # the system's role waits for its new permissions boundary; the query groups' do not
    no_boundary_wait = dataclasses.replace(Strict(), policy_propagation=False)
    assert apply.seconds - bench.critical_paths(no_boundary_wait)[0].seconds == pytest.approx(
        Strict().consistency_window)
    # a load balancer slower than everything else: the system, then the query groups, each waits for one
    slow_lb = Strict(lb_provisioning=100.0)
    assert bench.critical_paths(slow_lb)[0].seconds == pytest.approx(200.0)
    # network interfaces lingering longest: the system's destroy waits for them after the query groups'
    linger = Strict(eni_linger=50.0)
    assert bench.critical_paths(linger)[1].seconds == pytest.approx(linger.group_deleting + 50.0)


@pytest.mark.aws
def test_strict_time_model_part_reports_against_the_critical_path(tmp_path: Path, provider_binary: Path) -> None:
    """`bench/bench.py --strict-only --quick`: one apply and one destroy of a production
    system with three query groups through the strict layer, reported (never asserted)
    against the critical path; the destroy leaves nothing and no request is invalid."""
    timeline = tmp_path / "timeline"
    res = subprocess.run([str(VENV / "bin" / "python"), str(REPO_ROOT / "bench" / "bench.py"), "--strict-only",
                          "--quick", "--binary", str(provider_binary), "--timeline", str(timeline)],
                         cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = res.stdout
    assert "FAILED" not in out, out
    apply, destroy = bench.critical_paths(Strict())
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in out.splitlines() if line.startswith(("| apply |", "| destroy |"))}
    assert set(rows) == {"apply", "destroy"}, out
    for op, path in (("apply", apply), ("destroy", destroy)):
        wall, runs, span, idle, cp, ratio, calls, refused, invalid = rows[op]
        assert cp == bench.fmt_s(path.seconds), (op, cp)
        assert ratio.endswith("x") and float(ratio[:-1]) > 0, ratio
        assert len(runs.split(", ")) == 1 and invalid == "0", rows[op]
        assert f"Critical path of the {op}, {bench.fmt_s(path.seconds)}" in out
        assert all(f"- {step}" in out for step in path.steps)
    assert "Destroys needing a second run: 0 of 1." in out, out
    logs = sorted(p.name for p in timeline.iterdir())
    assert logs == ["strict-apply-1.log", "strict-destroy-1.log"], logs
    assert "CreateAutoScalingGroup" in (timeline / "strict-apply-1.log").read_text()
    assert "DeleteVpc" in (timeline / "strict-destroy-1.log").read_text()
