"""The provider's benchmark: what our resources cost over Terraform's own floor (the
built-in `terraform_data` resource). Run it through `bench/run` (usage there).

One run starts the local AWS emulator (moto behind the acceptance tests' recording proxy),
applies one production `datomic_system`, and measures with the real terraform CLI:
  plan of N new datomic_query_group   (a) against AWS answering from memory (CachedAws: the
                                          emulator's answers, kept): the provider's overhead
                                      (b) against the emulator (plan-time AWS checks)
                                      (c) AWS endpoint where nothing listens (checks give up)
  refresh (plan -refresh-only) of N applied query groups, (a) and (b)
  apply and destroy of N query groups
each next to the same operation on N terraform_data resources (the floor), as medians of
several repetitions, with the AWS calls counted at the proxy. A second floor, the *plugin
floor*, is N `floor_data` resources of bench/floor_provider.rs: terraform_data's shape served
by this crate's plugin layer, doing nothing. What any plugin provider pays over terraform_data
(Terraform starting it per phase, gRPC per resource) shows between the two floors; what our
resources cost beyond that shows between the plugin floor and ours. The emulator is slow per
call (a Python development server, one connection per call), so times of operations that
call AWS measure the emulator as much as us: read the call counts for those. Plus:
process start -> handshake line (median of 20, AutoMTLS as Terraform drives it), peak
RSS of the provider during the N=500 plan, binary size, and (with --build) the clean
release build time. Last, through the strict AWS layer's time model (strict_aws.py:
state changes take time, as on AWS, scaled down): apply and destroy of one production
system with three query groups, against the critical path of AWS's waits in that model
(`critical_paths`, from the layer's own durations); `--strict-only` runs just that.

Everything started here is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "acceptance-tests"))

from harness import (BINARY_NAME, Emulator, Terraform, classify, crate_version, provider_hcl,  # noqa: E402
                     stop_process_group)
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
import http.client  # noqa: E402
import urllib.parse  # noqa: E402
from plugin_process import MAGIC_COOKIE, MAGIC_COOKIE_KEY, make_client_cert  # noqa: E402
from strict_aws import Strict  # noqa: E402

DEAD_ENDPOINT = "http://127.0.0.1:9"
FLOOR_SOURCE = "bench/floor"
FLOOR_EXAMPLE = "floor-provider"
SYSTEM = "bench"
_live: set[subprocess.Popen] = set()  # terraform processes running now (stopped on exit)
_last_output: dict = {"text": "", "cpu": 0.0}  # stdout + stderr, CPU seconds of the last terraform command


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# AWS answering from memory
# --------------------------------------------------------------------------------------


class CachedAws:
    """An AWS endpoint on 127.0.0.1 in front of the emulator that answers from memory at
    once, over keep-alive connections as AWS does. A read it has seen before (same
    method, path, X-Amz-Target and body) gets the emulator's answer of that time; any
    other request is forwarded to the emulator (writes always are) and its answer kept.
    After one warm-up run, an operation that repeats the same reads measures the
    provider's own overhead, not the emulator's speed. `calls` counts every request,
    `forwarded` those that reached the emulator."""

    def __init__(self, upstream: str) -> None:
        cache = self
        self.calls = 0
        self.forwarded = 0
        self._answers: dict[tuple[str, str, str, bytes], tuple[int, list[tuple[str, str]], bytes]] = {}
        self._lock = threading.Lock()
        u = urllib.parse.urlsplit(upstream)
        self._upstream = (u.hostname or "127.0.0.1", u.port or 80)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as AWS: no delayed ACK between headers and body

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = (self.command, self.path, self.headers.get("X-Amz-Target", ""), body)
                with cache._lock:
                    cache.calls += 1
                    answer = cache._answers.get(key)
                if answer is None:
                    answer = cache._forward(self.command, self.path, self.headers, body)
                    if not classify(self.command, self.path, self.headers, body).is_write and answer[0] < 300:
                        with cache._lock:
                            cache._answers[key] = answer
                status, headers, data = answer
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _forward(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        with self._lock:
            self.forwarded += 1
        conn = http.client.HTTPConnection(*self._upstream, timeout=60)
        try:
            skip = {"host", "connection", "content-length", "transfer-encoding"}
            conn.request(method, path, body=body, headers={k: v for k, v in headers.items() if k.lower() not in skip})
            r = conn.getresponse()
            data = r.read()
            keep = [(k, v) for k, v in r.getheaders()
                    if k.lower() not in {"connection", "content-length", "transfer-encoding", "date", "server"}]
            return r.status, keep, data
        finally:
            conn.close()

    def forget(self) -> None:
        """Drops every kept answer: call it whenever what the emulator holds changes."""
        with self._lock:
            self._answers.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    calls: int = 0
    writes: int = 0
    cpu: float = 0.0  # user + sys of terraform and the provider processes it waited for


@dataclass
class Row:
    op: str
    n: int
    ours: list[Sample] = field(default_factory=list)
    floor: list[Sample] = field(default_factory=list)
    plugin: list[Sample] = field(default_factory=list)  # the plugin floor
    note: str = ""

    @staticmethod
    def med(samples: list[Sample], attr: str) -> float | None:
        return statistics.median(getattr(s, attr) for s in samples) if samples else None


def vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class RssWatcher:
    """Polls /proc while a command runs: peak VmHWM of any process whose executable is
    `binary` (Terraform starts the provider several times per command) and of `pid`."""

    def __init__(self, binary: Path, interval: float = 0.02) -> None:
        self.target = str(binary.resolve())
        self.interval = interval
        self.provider_kib = 0
        self.terraform_kib = 0
        self._cpu_ticks: dict[int, int] = {}  # provider pid -> utime + stime last seen
        self.pid: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _scan(self) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{entry}/exe").removesuffix(" (deleted)") == self.target:
                    self.provider_kib = max(self.provider_kib, vm_hwm_kib(int(entry)))
                    # fields 14 and 15 of stat (after the command's closing parenthesis)
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                    self._cpu_ticks[int(entry)] = int(fields[11]) + int(fields[12])
            except OSError:
                continue
        if self.pid is not None:
            self.terraform_kib = max(self.terraform_kib, vm_hwm_kib(self.pid))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._scan()
            self._stop.wait(self.interval)

    @property
    def provider_cpu_s(self) -> float:
        """CPU time (user + sys) of the provider processes seen, as of their last sample
        (a lower bound: up to one interval of each process's end is missed)."""
        return sum(self._cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> "RssWatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def run_tf(tf: Terraform, *args: str, timeout: float = 1800, watcher: RssWatcher | None = None) -> float:
    """Runs terraform, returns the wall time; raises with its output when it fails."""
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = tf.popen(*args)
    _live.add(proc)
    if watcher is not None:
        watcher.pid = proc.pid
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process_group(proc, grace=10, first=signal.SIGINT)
        raise RuntimeError(f"terraform {' '.join(args)} timed out after {timeout}s in {tf.workdir}") from None
    finally:
        _live.discard(proc)
    dt = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # terraform and, as terraform waits for them, its provider processes
    _last_output["cpu"] = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    _last_output["text"] = out + err
    if proc.returncode not in (0, 2) or (proc.returncode == 2 and "-detailed-exitcode" not in args):
        raise RuntimeError(f"terraform {' '.join(args)} failed ({proc.returncode}) in {tf.workdir}:\n"
                           f"{out[-3000:]}\n{err[-3000:]}")
    return dt


PLAN = ("plan", "-input=false", "-no-color", "-lock=false")
REFRESH = ("plan", "-refresh-only", "-input=false", "-no-color", "-lock=false")
APPLY = ("apply", "-auto-approve", "-input=false", "-no-color")
DESTROY = ("destroy", "-auto-approve", "-input=false", "-no-color")


def ours_config(n: int) -> str:
    groups = "".join(f'resource "datomic_query_group" "g{i}" {{\n  system = "{SYSTEM}"\n  name   = "g{i}"\n}}\n'
                     for i in range(n))
    return provider_hcl() + "\n" + groups


def floor_config(n: int) -> str:
    return "".join(f'resource "terraform_data" "d{i}" {{\n  input = "g{i}"\n}}\n' for i in range(n))


def use_floor_provider(tf: Terraform, floor_binary: Path) -> None:
    """Points `tf`'s CLI configuration at the plugin floor (a binary named
    terraform-provider-floor) instead of our provider."""
    tf.cli_config.write_text('provider_installation {\n  dev_overrides {\n'
                             f'    "{FLOOR_SOURCE}" = "{floor_binary.parent}"\n  }}\n  direct {{}}\n}}\n')


FLOOR_TERRAFORM_BLOCK = f'terraform {{\n  required_providers {{\n    floor = {{ source = "{FLOOR_SOURCE}" }}\n  }}\n}}\n\n'


def floor_resources(n: int, schema_of_ours: bool = False) -> str:
    """N floor_data (terraform_data's shape), or with `schema_of_ours` N floor_query_group
    (datomic_query_group's schema, planned generically) configured as ours_config's."""
    if schema_of_ours:
        return "".join(f'resource "floor_query_group" "g{i}" {{\n  system = "{SYSTEM}"\n  name   = "g{i}"\n}}\n'
                       for i in range(n))
    return floor_config(n).replace("terraform_data", "floor_data")


def plugin_floor_config(n: int, schema_of_ours: bool = False) -> str:
    return FLOOR_TERRAFORM_BLOCK + floor_resources(n, schema_of_ours)


# --------------------------------------------------------------------------------------
# the strict AWS layer's time model: one production system and three query groups
# --------------------------------------------------------------------------------------

STRICT_SYSTEM = "tm"
STRICT_GROUPS = ("q1", "q2", "q3")


def strict_config() -> str:
    """One production system (storage not retained: the destroy deletes the network and
    the table too) and three query groups naming it, so that Terraform creates them
    after it and destroys them before it, as a user's configuration would."""
    groups = "".join(f'\nresource "datomic_query_group" "{g}" {{\n  system = datomic_system.p.name\n'
                     f'  name   = "{g}"\n}}\n' for g in STRICT_GROUPS)
    return (provider_hcl() + f'\nresource "datomic_system" "p" {{\n  name           = "{STRICT_SYSTEM}"\n'
            '  topology       = "production"\n  retain_storage = false\n}\n' + groups)


@dataclass
class Chain:
    """A critical path of AWS's waits: its length and, step by step, why."""

    seconds: float
    steps: list[str]


# The time model's durations (seconds): what `--scale` multiplies.
DURATIONS = ("eni_linger", "consistency_window", "profile_window", "lb_provisioning", "instance_pending",
             "in_service", "group_deleting", "table_status")


def scaled(s: Strict, k: float) -> Strict:
    """`s` with every duration of the time model multiplied by `k` (AWS's own are about 60
    times those of `Strict()`): the larger `k`, the smaller the share of what does not
    scale with AWS (Terraform's own time, the emulator's answer to each call)."""
    return dataclasses.replace(s, **{f: k * getattr(s, f) for f in DURATIONS})


def critical_paths(s: Strict) -> tuple[Chain, Chain]:
    """The longest chains of waits that the topology of `strict_config` needs in the
    strict layer's time model, from `s`'s own durations (apply, destroy). Only waits
    count, not the time of the calls themselves: a chain of calls that AWS answers at
    once is free here, which is what makes the ratio an upper bound of what is lost.

    Apply. Within one compute group (the system's primary group, or a query group):
      - the load balancer is `provisioning` for `lb_provisioning` after its create;
      - beside it, the nodes: the new instance profile is refused by
        CreateAutoScalingGroup for `profile_window` after its role is added, then the
        nodes are `pending` for `instance_pending` and `Pending` for `in_service` after
        their launch, and the new group is missing from DescribeAutoScalingGroups (the
        only place that says InService) for `consistency_window`; the three run from the
        launch, so the longest counts;
      - the system's table is CREATING for `table_status` beside both;
      - the system's node role names the system's permissions boundary, a managed policy
        made just before it, which IAM refuses as a boundary for `consistency_window`
        (`policy_propagation`): before the system's instance profile, not the query
        groups' (the boundary is known by then).
    Terraform creates a query group only once the system it names is created, and a
    create returns when its group is usable (nodes InService, load balancer active):
    apply = system's chain + one query group's (the three side by side).
    Other eventual-consistency windows are not on the path: what a later call needs
    (ids, arns) comes in the create's answer.

    Destroy. Terraform deletes the query groups first (side by side), each until its
    Auto Scaling group, `Delete in progress` for `group_deleting`, is gone; then the
    system: its group (`group_deleting`), its load balancer, and its table (DELETING for
    `table_status`) side by side, and its security group, subnets and VPC once the
    network interfaces of its terminated nodes and deleted load balancer are gone
    (`eni_linger` after the termination; the query groups' were terminated earlier).
    destroy = group_deleting + max(eni_linger, group_deleting, table_status).
    """
    nodes = s.profile_window + max(s.instance_pending, s.in_service, s.consistency_window)
    group = max(s.lb_provisioning, nodes)
    boundary = s.consistency_window if s.policy_propagation else 0.0
    system = max(s.lb_provisioning, boundary + nodes, s.table_status)
    why_nodes = (f"instance profile propagating {s.profile_window:g} s (`profile_window`), then the nodes "
                 f"launched: max(`instance_pending` {s.instance_pending:g} s, `in_service` {s.in_service:g} s, "
                 f"the new group hidden from DescribeAutoScalingGroups {s.consistency_window:g} s "
                 f"`consistency_window`) = {nodes:g} s")
    apply = Chain(system + group, [
        f"system {system:g} s = max(load balancer `provisioning` {s.lb_provisioning:g} s (`lb_provisioning`); "
        f"the permissions boundary refused as a role's boundary {boundary:g} s (`consistency_window`, "
        f"`policy_propagation`), then {why_nodes}; table CREATING {s.table_status:g} s (`table_status`))",
        f"then the three query groups side by side, each {group:g} s = max(load balancer "
        f"{s.lb_provisioning:g} s; nodes {nodes:g} s)",
    ])
    sys_destroy = max(s.eni_linger, s.group_deleting, s.table_status)
    destroy = Chain(s.group_deleting + sys_destroy, [
        f"the three query groups side by side, each {s.group_deleting:g} s: its Auto Scaling group "
        f"`Delete in progress` (`group_deleting`) until gone",
        f"then the system {sys_destroy:g} s = max(network interfaces of its terminated nodes and deleted load "
        f"balancer lingering {s.eni_linger:g} s (`eni_linger`) before the security group, subnets and VPC "
        f"can go; its group `Delete in progress` {s.group_deleting:g} s; table DELETING {s.table_status:g} s)",
    ])
    return apply, destroy


class CallClock:
    """Times every call the emulator's proxy records (refusals of the strict layer
    included) while it is installed: (start, end in seconds since `start()`, call).
    It wraps two of the proxy's methods on the instance: the first one a request
    meets (its start) and the one that records it (its end)."""

    def __init__(self, em: Emulator) -> None:
        assert em.proxy is not None
        self.proxy = em.proxy
        self.t0 = time.perf_counter()
        self.calls: list[tuple[float, float, Any]] = []
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}  # handler thread -> start of its request
        choose, record = self.proxy._choose_fault, self.proxy._record

        def started(call: Any) -> Any:
            with self._lock:
                self._started[threading.get_ident()] = time.perf_counter() - self.t0
            return choose(call)

        def ended(call: Any) -> None:
            now = time.perf_counter() - self.t0
            with self._lock:
                self.calls.append((self._started.pop(threading.get_ident(), now), now, call))
            record(call)

        self.proxy._choose_fault = started  # type: ignore[method-assign]
        self.proxy._record = ended  # type: ignore[method-assign]

    def start(self) -> None:
        with self._lock:
            self.t0 = time.perf_counter()
            self.calls.clear()

    def uninstall(self) -> None:
        for name in ("_choose_fault", "_record"):
            self.proxy.__dict__.pop(name, None)

    def text(self) -> str:
        """One line per call, in order of start: its start and end (seconds since the
        command started), service, action, HTTP status, and the strict rule or fault
        behind an error the proxy made up."""
        with self._lock:
            calls = sorted(self.calls, key=lambda x: x[0])
        return "".join(f"{t0:8.3f} {t1:8.3f}  {c.service:<20} {c.action:<40} {c.status}"
                       f"{'  ' + c.fault if c.fault else ''}\n" for t0, t1, c in calls)


@dataclass
class StrictRun:
    op: str  # "apply" or "destroy"
    seconds: float
    first_call: float  # seconds from the command's start to its first and last AWS call
    last_call: float
    calls: int
    writes: int
    refused: dict[str, int]  # strict rule -> calls it refused
    invalid: int
    idle: float = 0.0  # seconds between the first and the last AWS call with no call in flight


def idle_time(spans: list[tuple[float, float]]) -> float:
    """The time between the first start and the last end of `spans` covered by none."""
    idle, reach = 0.0, None
    for t0, t1 in sorted(spans):
        if reach is not None and t0 > reach:
            idle += t0 - reach
        reach = t1 if reach is None else max(reach, t1)
    return idle


class Bench:
    def __init__(self, args: argparse.Namespace, binary: Path, work: Path, floor_binary: Path | None = None) -> None:
        self.args = args
        self.binary = binary
        self.floor_binary = floor_binary  # the plugin floor; None: not measured
        self.work = work
        self.em: Emulator | None = None
        self.cached: CachedAws | None = None
        self.rows: dict[tuple[str, int], Row] = {}
        self.extra: list[tuple[str, str, str, str]] = []  # (metric, ours, floor, ratio)
        self.cpu: dict[str, list[float]] = {}  # N=max plan: "provider", "ours", "floor", "plugin" CPU seconds
        self.schema_floor: dict[int, list[Sample]] = {}  # N -> plans of N floor_query_group
        self.schema_floor_refresh: dict[int, list[Sample]] = {}  # N -> refreshes of them
        self.failures: list[str] = []
        self.strict_runs: list[StrictRun] = []  # the strict time model's applies and destroys
        self.strict_config: Strict | None = None  # the durations they ran with
        self.strict_left: list[str] = []  # what a destroy there left (in state or on AWS)
        self._dirs = 0

    def row(self, op: str, n: int, note: str = "") -> Row:
        key = (op, n)
        if key not in self.rows:
            self.rows[key] = Row(op, n, note=note)
        return self.rows[key]

    def tf(self, name: str, endpoint: str | None) -> Terraform:
        self._dirs += 1
        return Terraform(self.work / f"{self._dirs:03d}-{name}", self.binary, endpoint, timeout=1800)

    def plugin_tf(self, name: str, n: int, schema_of_ours: bool = False) -> Terraform | None:
        """A working directory of the plugin floor's N resources (None without it)."""
        if self.floor_binary is None:
            return None
        tf = self.tf(name, None)
        use_floor_provider(tf, self.floor_binary)
        tf.write(plugin_floor_config(n, schema_of_ours))
        return tf

    def measured(self, tf: Terraform, args: tuple[str, ...], watcher: RssWatcher | None = None) -> Sample:
        assert self.em is not None
        self.em.proxy.clear()  # type: ignore[union-attr]
        cached_before = self.cached.calls if self.cached else 0
        dt = run_tf(tf, *args, watcher=watcher)
        cached_calls = (self.cached.calls if self.cached else 0) - cached_before
        return Sample(dt, len(self.em.calls()) + cached_calls, len(self.em.writes()), _last_output["cpu"])

    # ---------------------------------------------------------------------------------
    def start_emulator(self, system: bool = True) -> None:
        self.em = Emulator(self.work / "moto.log").start()
        log(f"emulator at {self.em.direct_url} (proxy {self.em.url})")
        if system:
            self.fresh_system(reset=False)
            self.cached = CachedAws(self.em.direct_url)

    def fresh_system(self, reset: bool = True) -> None:
        """(Empties the emulator and) applies the production system the query groups
        belong to. Each lifecycle repetition starts from an empty emulator: moto keeps
        what earlier ones left (terminated instances among them) and puts every Auto
        Scaling node in the first /24 subnet; N=200 failed on a used one."""
        assert self.em is not None
        if reset:
            self.em.reset()
        sys_tf = self.tf("system", self.em.url)
        sys_tf.write(provider_hcl() + f'\nresource "datomic_system" "p" {{\n  name     = "{SYSTEM}"\n'
                     '  topology = "production"\n}\n')
        run_tf(sys_tf, *APPLY)
        log("applied the production system the query groups belong to")

    PLAN_VARIANTS = (
        ("cached", "plan, new resources (AWS answering from memory at once: provider overhead)"),
        ("emulator", "plan, new resources (plan-time AWS checks against the emulator)"),
        ("no endpoint", "plan, new resources (AWS unreachable: connection refused, checks give up)"),
    )

    def plans(self) -> None:
        a = self.args
        endpoints = {"cached": self.cached.url, "emulator": self.em.url, "no endpoint": DEAD_ENDPOINT}  # type: ignore[union-attr]
        for n in a.plan_n:
            big = n == max(a.plan_n)
            floor = self.tf(f"floor-plan-{n}", None)
            floor.write(floor_config(n))
            plugin = self.plugin_tf(f"plugin-floor-plan-{n}", n)
            plugin_samples: list[Sample] = []
            schema_floor = self.plugin_tf(f"schema-floor-plan-{n}", n, schema_of_ours=True)
            dirs = {}
            for key, _ in self.PLAN_VARIANTS:
                if key == "no endpoint" and n not in a.dead_n:
                    continue
                dirs[key] = self.tf(f"plan-{key.replace(' ', '-')}-{n}", endpoints[key])
                dirs[key].write(ours_config(n))
            floor_samples: list[Sample] = []
            self.cached.forget()  # type: ignore[union-attr]
            run_tf(dirs["cached"], *PLAN)  # warm-up: fills the memory of AWS answers
            for rep in range(a.reps):
                log(f"plan N={n} rep {rep + 1}/{a.reps}")
                floor_samples.append(self.measured(floor, PLAN))
                if plugin is not None:
                    plugin_samples.append(self.measured(plugin, PLAN))
                    if big:
                        self.cpu.setdefault("plugin", []).append(plugin_samples[-1].cpu)
                if schema_floor is not None:
                    self.schema_floor.setdefault(n, []).append(self.measured(schema_floor, PLAN))
                for key, op in self.PLAN_VARIANTS:
                    if key not in dirs or (key == "no endpoint" and rep >= a.dead_reps):
                        continue
                    row = self.row(op, n)
                    if big:
                        w = RssWatcher(self.binary)
                        with w:
                            row.ours.append(self.measured(dirs[key], PLAN, w))
                        self.note_rss(n, key, w)
                        if key == "cached":
                            self.cpu.setdefault("provider", []).append(w.provider_cpu_s)
                            self.cpu.setdefault("ours", []).append(_last_output["cpu"])
                    else:
                        row.ours.append(self.measured(dirs[key], PLAN))
                    if key == "cached" and rep == 0:
                        warnings = [w for w in _last_output["text"].split("Warning: ")[1:]
                                    if not w.startswith("Provider development overrides")]
                        if warnings:
                            log("warning: the plan against AWS answering from memory was not clean:\n" + warnings[0][:800])
                            row.note = "not clean: the plan warned, see stderr"
                if big:
                    self.cpu.setdefault("floor", []).append(floor_samples[-1].cpu)
                if big and rep == 0:
                    fw = RssWatcher(self.binary)
                    with fw:
                        self.measured(floor, PLAN, fw)
                    self.floor_tf_rss = fw.terraform_kib
            for key, op in self.PLAN_VARIANTS:
                if key in dirs:
                    self.row(op, n).floor = floor_samples
                    self.row(op, n).plugin = plugin_samples
            for d in [*dirs.values(), *(x for x in (plugin, schema_floor) if x)]:
                shutil.rmtree(d.workdir, ignore_errors=True)

    def strict_time_model(self) -> None:
        """Apply and destroy of `strict_config` through the strict layer with every rule
        on and its own durations (whatever DATOMIC_STRICT says for the rest), each
        repetition from an emptied emulator; a destroy must leave nothing, in one run."""
        a = self.args
        assert self.em is not None and self.em.proxy is not None and self.em.proxy.strict is not None
        config = scaled(Strict(), a.scale)
        old = self.em.proxy.set_strict(config)
        self.strict_config = config
        layer = self.em.proxy.strict
        clock = CallClock(self.em)
        try:
            for rep in range(a.strict_reps):
                self.em.reset()
                self.warm_up()
                tf = self.tf(f"strict-{rep + 1}", self.em.url)
                tf.write(strict_config())
                for op, args in (("apply", APPLY), ("destroy", DESTROY)):
                    log(f"strict time model: {op} of a production system and {len(STRICT_GROUPS)} query groups, "
                        f"rep {rep + 1}/{a.strict_reps}")
                    invalid = len(layer.invalid)
                    clock.start()
                    try:
                        dt = run_tf(tf, *args)
                    except RuntimeError as e:
                        first = next((ln for ln in str(e).splitlines() if ln.startswith("Error")),
                                     str(e).splitlines()[0])
                        log(f"strict time model: {op} failed: {e}"[:4000])
                        self.failures.append(f"strict time model, {op}: {first}")
                        self.write_timeline(f"strict-{op}-{rep + 1}-failed", clock)
                        return
                    calls = [c for _, _, c in clock.calls]
                    starts = [t for t, _, _ in clock.calls] or [0.0]
                    ends = [t for _, t, _ in clock.calls] or [0.0]
                    refused: dict[str, int] = {}
                    for c in calls:
                        if c.fault and c.fault.startswith("strict:"):
                            refused[c.fault[7:]] = refused.get(c.fault[7:], 0) + 1
                    self.strict_runs.append(StrictRun(op, dt, min(starts), max(ends), len(calls),
                                                      sum(1 for c in calls if c.is_write), refused,
                                                      len(layer.invalid) - invalid,
                                                      idle_time([(t0, t1) for t0, t1, _ in clock.calls])))
                    self.write_timeline(f"strict-{op}-{rep + 1}", clock)
                self.strict_left += [f"rep {rep + 1}: {x}" for x in self.left_behind(tf)]
                if not a.keep:
                    shutil.rmtree(tf.workdir, ignore_errors=True)
            if layer.errors:
                self.failures.append("the strict layer failed on: " + "; ".join(layer.errors[:5]))
        finally:
            clock.uninstall()
            self.em.proxy.set_strict(old)

    def warm_up(self) -> None:
        """AWS has no cold start, the emulator does: each service's first call makes its
        backend in moto, and the strict layer loads that service's API model and makes
        its own client on first use (seconds for EC2). One read of each service through
        the proxy does all that here (after each reset of the emulator), untimed."""
        assert self.em is not None
        for service, read in (("ec2", "describe_vpcs"), ("autoscaling", "describe_auto_scaling_groups"),
                              ("elbv2", "describe_load_balancers"), ("iam", "list_roles"),
                              ("dynamodb", "list_tables"), ("s3", "list_buckets"), ("sts", "get_caller_identity"),
                              ("route53", "list_hosted_zones")):
            getattr(self.em.boto3(service, via_proxy=True), read)()
            if self.em.proxy is not None and self.em.proxy.strict is not None:
                self.em.proxy.strict.client(service)

    def write_timeline(self, name: str, clock: CallClock) -> None:
        if self.args.timeline:
            d = Path(self.args.timeline)
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{name}.log").write_text(clock.text())

    def left_behind(self, tf: Terraform) -> list[str]:
        """What a destroy left: resources in the state, and on AWS (read around the proxy)
        Auto Scaling groups, load balancers, VPCs other than the default, tables, hosted zones."""
        assert self.em is not None
        left = [f"in state: {addr}" for addr in tf.state_list()]
        asg = self.em.boto3("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
        left += [f"Auto Scaling group {g['AutoScalingGroupName']}" for g in asg]
        lbs = self.em.boto3("elbv2").describe_load_balancers()["LoadBalancers"]
        left += [f"load balancer {x['LoadBalancerName']}" for x in lbs]
        vpcs = self.em.boto3("ec2").describe_vpcs()["Vpcs"]
        left += [f"VPC {v['VpcId']}" for v in vpcs if not v.get("IsDefault")]
        left += [f"table {t}" for t in self.em.boto3("dynamodb").list_tables()["TableNames"]]
        zones = self.em.boto3("route53").list_hosted_zones()["HostedZones"]
        left += [f"hosted zone {z['Name']}" for z in zones]
        return left

    def note_rss(self, n: int, label: str, w: RssWatcher) -> None:
        prev = getattr(self, "rss", {})
        cur = prev.get(label, (0, 0))
        prev[label] = (max(cur[0], w.provider_kib), max(cur[1], w.terraform_kib))
        self.rss = prev
        self.rss_n = n

    def lifecycles(self) -> None:
        """apply / refresh / destroy, ours and floor. A failed phase is reported, and the
        others go on."""
        a = self.args
        ns = sorted(set(a.apply_n) | set(a.refresh_n))
        for n in ns:
            reps = a.apply_reps if n in a.apply_n else 1
            for kind in ("floor", "plugin", "ours"):
                if kind == "plugin":
                    tf = self.plugin_tf(f"plugin-floor-life-{n}", n)
                    if tf is None:
                        continue
                else:
                    tf = self.tf(f"{kind}-life-{n}", self.em.url if kind == "ours" else None)  # type: ignore[union-attr]
                    tf.write(ours_config(n) if kind == "ours" else floor_config(n))
                try:
                    for rep in range(reps):
                        if kind == "ours":
                            self.fresh_system()
                        log(f"{kind}: apply N={n} rep {rep + 1}/{reps}")
                        s = self.measured(tf, APPLY)
                        getattr(self.row("apply", n), kind).append(s)
                        if n in a.refresh_n and rep == 0:
                            self.refreshes(kind, tf, n)
                        log(f"{kind}: destroy N={n} rep {rep + 1}/{reps}")
                        getattr(self.row("destroy", n), kind).append(self.measured(tf, DESTROY))
                except RuntimeError as e:
                    first = next((ln for ln in str(e).splitlines() if ln.startswith("Error")), str(e).splitlines()[0])
                    log(f"{kind}: N={n} failed: {e}"[:4000])
                    self.failures.append(f"{kind}, N={n}: {first}")
                    if kind == "floor":
                        break
                if not self.args.keep:
                    shutil.rmtree(tf.workdir, ignore_errors=True)
            if n in a.refresh_n:
                self.schema_floor_refreshes(n)

    def schema_floor_refreshes(self, n: int) -> None:
        """Refreshes of N applied floor_query_group (our schema, no code)."""
        tf = self.plugin_tf(f"schema-floor-life-{n}", n, schema_of_ours=True)
        if tf is None:
            return
        try:
            run_tf(tf, *APPLY)
            for r in range(self.args.reps):
                log(f"schema floor: refresh N={n} rep {r + 1}/{self.args.reps}")
                self.schema_floor_refresh.setdefault(n, []).append(self.measured(tf, REFRESH))
            run_tf(tf, *DESTROY)
        except RuntimeError as e:
            log(f"schema floor: N={n} failed: {e}"[:4000])
            self.failures.append(f"schema floor, N={n}: {str(e).splitlines()[0]}")
        finally:
            if not self.args.keep:
                shutil.rmtree(tf.workdir, ignore_errors=True)

    REFRESH_ROWS = ("refresh (plan -refresh-only), applied resources (AWS answering from memory at once: "
                    "provider overhead)",
                    "refresh (plan -refresh-only), applied resources (the emulator)")

    def refreshes(self, kind: str, tf: Terraform, n: int) -> None:
        """Refreshes of N applied resources: ours twice, against AWS answering from memory
        (after one warm-up refresh that fills it) and against the emulator; each floor
        once, its samples shown on both rows."""
        cached_op, emulator_op = self.REFRESH_ROWS
        runs = [(emulator_op, tf)]
        if kind == "ours":
            assert self.cached is not None
            from_memory = copy.copy(tf)
            from_memory.env = {**tf.env, "TF_VAR_aws_endpoint": self.cached.url}
            self.cached.forget()  # answers of an earlier state of the emulator are stale
            run_tf(from_memory, *REFRESH)  # warm-up: fills the memory of AWS answers
            runs.insert(0, (cached_op, from_memory))
        for op, t in runs:
            forwarded = self.cached.forwarded if self.cached else 0
            for r in range(self.args.reps):
                log(f"{kind}: {op.split('(')[-1].rstrip(')')}: refresh N={n} rep {r + 1}/{self.args.reps}")
                sample = self.measured(t, REFRESH)
                ops = (cached_op, emulator_op) if kind != "ours" else (op,)
                for o in ops:
                    getattr(self.row(o, n), kind).append(sample)
            if op == cached_op and kind == "ours" and self.cached and self.cached.forwarded != forwarded:
                self.row(op, n).note = "not all answered from memory: the reads differed from the warm-up's"

    def handshake(self) -> None:
        cert_pem, _key = make_client_cert()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_"))}
        env.update({MAGIC_COOKIE_KEY: MAGIC_COOKIE, "PLUGIN_PROTOCOL_VERSIONS": "6",
                    "PLUGIN_MIN_PORT": "10000", "PLUGIN_MAX_PORT": "25000",
                    "PLUGIN_CLIENT_CERT": cert_pem.decode()})

        def first_line(cmd: list[str]) -> float:
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                line = p.stdout.readline()  # type: ignore[union-attr]
                dt = time.perf_counter() - t0
                if not line:
                    raise RuntimeError(f"{cmd[0]} printed nothing")
                return dt
            finally:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)

        echo = shutil.which("echo") or "/bin/echo"
        k = self.args.handshakes
        ours = [first_line([str(self.binary)]) for _ in range(k)]
        floor = [first_line([echo, "1|6|tcp|127.0.0.1:1|grpc"]) for _ in range(k)]
        mo, mf = statistics.median(ours), statistics.median(floor)
        self.extra.append((f"process start -> handshake line, AutoMTLS as Terraform starts it (median of {k}; "
                           "floor: spawn of /bin/echo printing a line)", f"{mo * 1000:.1f} ms", f"{mf * 1000:.1f} ms",
                           f"{mo / mf:.1f}x"))
        del env["PLUGIN_CLIENT_CERT"]
        plain = statistics.median(first_line([str(self.binary)]) for _ in range(k))
        self.extra.append((f"process start -> handshake line without PLUGIN_CLIENT_CERT (no TLS; median of {k})",
                           f"{plain * 1000:.1f} ms", f"{mf * 1000:.1f} ms", f"{plain / mf:.1f}x"))

    def build(self) -> Path:
        build_dir = Path(tempfile.mkdtemp(prefix="datomic-bench-build-"))
        try:
            log(f"clean release build into {build_dir} (several minutes) ...")
            t0 = time.perf_counter()
            res = subprocess.run(["cargo", "build", "--release", "--locked", "--bin", BINARY_NAME], cwd=REPO,
                                 env={**os.environ, "CARGO_TARGET_DIR": str(build_dir)}, stdin=subprocess.DEVNULL)
            dt = time.perf_counter() - t0
            if res.returncode != 0:
                raise RuntimeError("cargo build --release failed")
            self.build_seconds = dt
            dest = self.work / "built" / BINARY_NAME
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(build_dir / "release" / BINARY_NAME, dest)
            floor = None if self.args.no_plugin_floor else build_plugin_floor("release", build_dir)
            if floor is not None:
                shutil.copy2(floor, dest.parent / FLOOR_EXAMPLE)
                self.built_floor = dest.parent / FLOOR_EXAMPLE
            return dest
        finally:
            shutil.rmtree(build_dir, ignore_errors=True)


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def machine() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kib = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    tfv = subprocess.run(["terraform", "version", "-json"], capture_output=True, text=True,
                         env={**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null", "CHECKPOINT_DISABLE": "1"})
    try:
        tf_version = json.loads(tfv.stdout)["terraform_version"]
    except (ValueError, KeyError):
        tf_version = "?"
    return [f"nproc {os.cpu_count()}", f"memory {mem}", f"CPU {cpu}", f"Terraform {tf_version}",
            f"{platform.system()} {platform.release()}",
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")]


def strict_report(b: Bench) -> list[str]:
    """The strict time model's table: wall times against the critical path of AWS's
    waits (printed, never asserted), and how that path is made."""
    s = b.strict_config
    if s is None:
        return []
    paths = dict(zip(("apply", "destroy"), critical_paths(s)))
    scale = b.args.scale
    durations = "its own durations" if scale == 1 else f"its own durations x{scale:g} (`--scale`)"
    out = [f"Strict AWS layer's time model (acceptance-tests/strict_aws.py `Strict()`: every rule on, {durations}"
           f"): one production `datomic_system` (`retain_storage = false`) and {len(STRICT_GROUPS)} "
           "`datomic_query_group` naming it, applied then destroyed, each run from an emptied emulator.", "",
           "| operation | wall time (median) | each run | first -> last AWS call | of which no call in flight "
           "| critical path of AWS's waits | wall time / critical path (target <= 1.2x) | AWS calls (writes) "
           "| refused as AWS would (rule: calls) | invalid requests |",
           "|---|---:|---|---:|---:|---:|---:|---:|---|---:|"]
    for op in ("apply", "destroy"):
        runs = [r for r in b.strict_runs if r.op == op]
        if not runs:
            continue
        wall = statistics.median(r.seconds for r in runs)
        span = statistics.median(r.last_call - r.first_call for r in runs)
        idle = statistics.median(r.idle for r in runs)
        cp = paths[op].seconds
        refused: dict[str, int] = {}
        for r in runs:
            for k, v in r.refused.items():
                refused[k] = refused.get(k, 0) + v
        refused_s = ", ".join(f"{k}: {v / len(runs):g}" for k, v in sorted(refused.items())) or "none"
        calls = statistics.median(r.calls for r in runs)
        writes = statistics.median(r.writes for r in runs)
        out.append(f"| {op} | {fmt_s(wall)} | {', '.join(fmt_s(r.seconds) for r in runs)} | {fmt_s(span)} | {fmt_s(idle)} | "
                   f"{fmt_s(cp)} | {f'{wall / cp:.1f}x' if cp else '-'} | {calls:.0f} ({writes:.0f}) | "
                   f"{refused_s} per run | {sum(r.invalid for r in runs)} |")
    out.append("")
    for op in ("apply", "destroy"):
        out.append(f"Critical path of the {op}, {fmt_s(paths[op].seconds)} (from the durations it ran with):")
        out += [f"- {step}" for step in paths[op].steps]
    out.append("")
    destroys = [r for r in b.strict_runs if r.op == "destroy"]
    out.append(f"Destroys needing a second run: {len({x.split(':')[0] for x in b.strict_left})} of {len(destroys)}"
               + (f" (left: {'; '.join(b.strict_left[:5])})" if b.strict_left else "") + ".")
    out.append("Only AWS's waits are on the critical path. Beyond it, the wall time holds Terraform's own start, "
               "plan and refresh (before the first AWS call and after the last), the calls themselves (the "
               "emulator's time per call; the emulator is warmed first, untimed), and the time with no call in "
               "flight: the provider waiting between polls and retries, or working. Medians; first -> last and "
               "no call in flight are medians too. `bench/run --strict-only --timeline DIR` writes each run's AWS "
               "calls, timed, to tell which waits ran one after another.")
    out.append("")
    return out


def report(b: Bench, binary_desc: str, started: float, load_start: str) -> str:
    a = b.args
    out = []
    out.append(f"Provider {crate_version()} ({binary_desc}). Machine: " + ", ".join(machine())
               + f"; load average at start {load_start}; "
               + f"{'--quick' if a.quick else 'full'}{' --strict-only' if a.strict_only else ''} run, "
               + f"{time.perf_counter() - started:.0f} s.")
    out.append("")
    if a.strict_only:
        out += strict_report(b)
        out += [f"FAILED: {f}" for f in b.failures]
        return "\n".join(out).rstrip("\n")
    out.append("| operation | N | ours (median) | floor: `terraform_data` (median) | ours / floor | "
               "plugin floor: `floor_data` (median) | ours / plugin floor | AWS calls per run (writes) | reps |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = [op for _, op in Bench.PLAN_VARIANTS] + [*Bench.REFRESH_ROWS, "apply", "destroy"]
    for op in order:
        for (rop, n), r in sorted(b.rows.items(), key=lambda kv: kv[0][1]):
            if rop != op or not r.ours:
                continue
            mo, mf, mp = (Row.med(x, "seconds") for x in (r.ours, r.floor, r.plugin))
            ratio = f"{mo / mf:.1f}x" if mo and mf else "-"
            plugin_ratio = f"{mo / mp:.1f}x" if mo and mp else "-"
            calls = Row.med(r.ours, "calls")
            writes = Row.med(r.ours, "writes")
            calls_s = f"{calls:.0f} ({writes:.0f})" if calls else "0"
            label = f"{op} ({r.note})" if r.note else op
            out.append(f"| {label} | {n} | {fmt_s(mo)} | {fmt_s(mf)} | {ratio} | {fmt_s(mp)} | {plugin_ratio} "
                       f"| {calls_s} | {len(r.ours)} |")
    out.append("")
    out.append("| metric | ours | floor | ours / floor |")
    out.append("|---|---:|---:|---:|")
    for metric, ours, floor, ratio in b.extra:
        out.append(f"| {metric} | {ours} | {floor} | {ratio} |")
    for what, floors, op in (("plan, N={n} new", b.schema_floor, Bench.PLAN_VARIANTS[0][1]),
                             ("refresh, N={n} applied", b.schema_floor_refresh, Bench.REFRESH_ROWS[0])):
        for n, samples in sorted(floors.items()):
            r = b.rows.get((op, n))
            mo, ms = (Row.med(r.ours, "seconds") if r else None), Row.med(samples, "seconds")
            out.append(f"| {what.format(n=n)} query groups (AWS answering from memory); floor: N `floor_query_group`, "
                       "the same schema served by the plugin layer alone (no checks, no AWS) | "
                       f"{fmt_s(mo)} | {fmt_s(ms)} | {f'{mo / ms:.1f}x' if mo and ms else '-'} |")
    if b.cpu.get("ours") and b.cpu.get("floor"):
        n = getattr(b, "rss_n", 0)
        ours, floor = statistics.median(b.cpu["ours"]), statistics.median(b.cpu["floor"])
        out.append(f"| CPU time (user + sys) of the whole plan command, terraform and provider, N={n} new query "
                   f"groups (AWS answering from memory; floor: {n} terraform_data) | {ours * 1000:.0f} ms | {floor * 1000:.0f} ms | "
                   f"{ours / floor:.1f}x |" if floor else "")
        if b.cpu.get("plugin"):
            pf = statistics.median(b.cpu["plugin"])
            out.append(f"| CPU time of the whole plan command, N={n}: the plugin floor ({n} floor_data) against "
                       f"terraform_data | {pf * 1000:.0f} ms | {floor * 1000:.0f} ms | {pf / floor:.1f}x |")
        prov = statistics.median(b.cpu["provider"])
        out.append(f"| of which the provider processes (sampled every 20 ms: a lower bound) | {prov * 1000:.0f} ms "
                   "| - | - |")
    rss = getattr(b, "rss", None)
    if rss:
        for label, (prov, tfk) in rss.items():
            out.append(f"| peak RSS (VmHWM) of the provider, plan of N={b.rss_n} new query groups ({label}) | "
                       f"{prov / 1024:.0f} MiB | - | - |")
        tf_ours = max(t for _, t in rss.values())
        tf_floor = getattr(b, "floor_tf_rss", 0)
        if tf_floor:
            out.append(f"| peak RSS of terraform itself, plan of N={b.rss_n} (floor: {b.rss_n} terraform_data) | "
                       f"{tf_ours / 1024:.0f} MiB | {tf_floor / 1024:.0f} MiB | {tf_ours / tf_floor:.1f}x |")
    size = b.binary.stat().st_size
    out.append(f"| provider binary size ({binary_desc}) | {size / 1024 / 1024:.1f} MiB | - | - |")
    bs = getattr(b, "build_seconds", None)
    out.append(f"| clean release build (`cargo build --release`, {os.cpu_count()} cores) | "
               f"{f'{bs / 60:.1f} min' if bs else 'not measured (bench/run --build)'} | - | - |")
    out.append("")
    out += strict_report(b)
    for f in b.failures:
        out.append(f"FAILED: {f}")
    if b.failures:
        out.append("")
    out.append("Times are wall-clock medians of whole terraform commands (`-parallelism` 10, the default); the "
               "floor runs no provider plugin and calls no AWS. The plugin floor is terraform_data's shape "
               "(bench/floor_provider.rs) served by this crate's plugin layer, doing nothing: between it and "
               "the floor is what any plugin pays, between ours and it what our resources add. *AWS "
               "answering from memory* is an endpoint in front of the emulator that answers a read it has seen before at once over keep-alive connections (one untimed warm-up run "
               "fills it), so those rows are the provider's own overhead; *emulator* is moto "
               "(a Python development server, one connection per call) behind the recording proxy; "
               "*AWS unreachable* points the endpoints at a closed port: each check fails, is retried "
               "once after a back-off, and the plan goes on with a warning. Apply, destroy and the "
               "refresh rows marked *the emulator* are bound by it: compare their AWS call counts "
               "(counted at the proxy) rather than their times.")
    return "\n".join(out)


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def target_dir() -> Path:
    """Cargo's target directory (CARGO_TARGET_DIR honoured)."""
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO,
                          capture_output=True, text=True)
    return Path(json.loads(meta.stdout)["target_directory"]) if meta.returncode == 0 else REPO / "target"


def build_plugin_floor(profile: str, target: Path | None = None) -> Path | None:
    """Builds the plugin floor (bench/floor_provider.rs) with the measured binary's
    profile; the library is shared with the provider, so this is mostly a link. None
    (and the report leaves the plugin floor out) when the build fails."""
    log(f"building the plugin floor (cargo build --example {FLOOR_EXAMPLE}, {profile}) ...")
    env = {**os.environ, **({"CARGO_TARGET_DIR": str(target)} if target else {})}
    res = subprocess.run(["cargo", "build", "--locked", "--example", FLOOR_EXAMPLE,
                          *(["--release"] if profile == "release" else [])],
                         cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if res.returncode != 0:
        log(f"warning: the plugin floor did not build; it is left out:\n{res.stderr[-2000:]}")
        return None
    return (target or target_dir()) / profile / "examples" / FLOOR_EXAMPLE


def find_binary(explicit: str | None) -> tuple[Path, str]:
    """The binary to measure: `explicit`, else the release build in cargo's target dir,
    brought up to date first (a no-op when it is; from a fresh clone, a full release
    build), so that what is measured is what the sources say."""
    if explicit:
        p = Path(explicit).resolve()
        if not p.is_file():
            sys.exit(f"bench: error: --binary {explicit}: no such file")
        return p, f"binary {p}"
    target = target_dir()
    p = target / "release" / BINARY_NAME
    log("bringing the release build up to date (cargo build --release; from nothing, about 15 min on 2 cores) ...")
    res = subprocess.run(["cargo", "build", "--release", "--locked", "--bin", BINARY_NAME], cwd=REPO,
                         stdin=subprocess.DEVNULL)
    if res.returncode != 0 or not p.is_file():
        sys.exit("bench: error: cargo build --release failed; or pass --binary PATH")
    return p, f"release build {p}"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run", description="Benchmark of the provider against "
                                "Terraform's floor (terraform_data). See bench/run for details.")
    p.add_argument("--quick", action="store_true", help="fewer N and repetitions (about 2 min; the full run takes about 6 min)")
    p.add_argument("--binary", help="provider binary to measure (default: the release build under cargo's "
                   "target dir, built or brought up to date first)")
    p.add_argument("--build", action="store_true", help="first do a clean `cargo build --release` in a "
                   "temporary target dir, report its time, and measure that binary (adds several minutes)")
    p.add_argument("--out", help="also write the markdown report to this file")
    p.add_argument("--keep", action="store_true", help="keep the working directories (printed at the end)")
    p.add_argument("--no-plugin-floor", action="store_true", help="leave out the plugin floor (saves building "
                   "bench/floor_provider.rs)")
    p.add_argument("--strict-only", action="store_true", help="only the strict AWS layer's time model: apply "
                   "and destroy of a production system with three query groups against the critical path of "
                   "AWS's waits (about 2 min; with --quick one run, under 1 min)")
    p.add_argument("--timeline", metavar="DIR", help="write the AWS calls of each strict time model run, timed, "
                   "into DIR (strict-apply-1.log, ...)")
    p.add_argument("--scale", type=float, default=1.0, metavar="K",
                   help="multiply every duration of the strict time model by K (default 1: `Strict()`'s own, "
                   "about 1/60 of AWS's); e.g. 10 to see the waits' share closer to AWS's proportions")
    a = p.parse_args(argv)
    if not a.scale > 0:
        p.error("--scale must be a positive number")
    a.strict_reps = 1 if a.quick else 3
    if a.quick:
        a.plan_n, a.reps, a.apply_n, a.apply_reps, a.refresh_n, a.handshakes = [50, 200], 2, [10], 1, [10], 10
        a.dead_n, a.dead_reps = [50], 1
    else:
        a.plan_n, a.reps, a.apply_n, a.apply_reps, a.refresh_n, a.handshakes = [50, 200, 500], 5, [10, 50], 3, [50, 200], 20
        a.dead_n, a.dead_reps = [50, 200, 500], 3
    return a


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    started = time.perf_counter()
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if shutil.which("terraform") is None:
        sys.exit("bench: error: terraform is not on PATH")
    work = Path(tempfile.mkdtemp(prefix="datomic-bench-"))

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    b: Bench | None = None
    try:
        floor: Path | None = None
        if a.build:
            b0 = Bench(a, Path("/nonexistent"), work)
            binary, desc = b0.build(), "release build made by --build"
            build_seconds = b0.build_seconds
            floor = getattr(b0, "built_floor", None)
        else:
            binary, desc = find_binary(a.binary)
            build_seconds = None
            if not a.no_plugin_floor and not a.strict_only:
                floor = build_plugin_floor("release")
        # dev_overrides wants a directory holding terraform-provider-datomic: use a copy,
        # which also tells its processes apart from any other run's
        bindir = work / "bin"
        bindir.mkdir()
        shutil.copy2(binary, bindir / BINARY_NAME)
        floor_bin = None
        if floor is not None and not a.no_plugin_floor:
            floor_bin = work / "floor-bin" / "terraform-provider-floor"
            floor_bin.parent.mkdir()
            shutil.copy2(floor, floor_bin)
        b = Bench(a, bindir / BINARY_NAME, work, floor_bin)
        if build_seconds:
            b.build_seconds = build_seconds
        log(f"measuring {desc}; working directory {work}")
        if a.strict_only:
            b.start_emulator(system=False)
        else:
            b.handshake()
            b.start_emulator()
            b.plans()
            b.lifecycles()
        b.strict_time_model()
        text = report(b, desc, started, load_start)
        print(text)
        if a.out:
            Path(a.out).write_text(text + "\n")
            log(f"wrote {a.out}")
        return 0
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        for proc in list(_live):
            stop_process_group(proc, grace=10, first=signal.SIGINT)
        if b is not None and b.cached is not None:
            b.cached.stop()
        if b is not None and b.em is not None:
            b.em.stop()
            log("emulator stopped")
        if a.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
