"""AWS's own rules, kept by the test proxy in front of the emulator (moto), where moto is
more forgiving than AWS (see the project's emulator notes):

- dependencies: DeleteSubnet / DeleteSecurityGroup / DeleteVpc answer DependencyViolation
  while network interfaces remain: those of instances not yet terminated, and, for
  `eni_linger` seconds, those of instances just terminated and of load balancers just
  deleted; DeleteVpc also while non-default security groups or load balancers remain;
  DeleteSecurityGroup also while a load balancer has the group or another group's rule
  names it. SetSecurityGroups on a Network Load Balancer made without security groups
  answers InvalidConfigurationRequest (AWS gives one groups only at creation).
  (moto already answers DeleteRole with policies or instance profiles attached with
  DeleteConflict, DeleteBucket of a non-empty bucket with BucketNotEmpty, and DeleteVpc
  with subnets with DependencyViolation: those are left to moto.)
- validation: every request checked against AWS's API models (strict_models.py); one AWS
  would refuse gets AWS's error, and is recorded so that its test fails.
- consistency: for `consistency_window` seconds after a create, describes/gets of that
  object by id or name answer "not found" (EC2 `*.NotFound`, IAM NoSuchEntity, an
  Auto Scaling group or CloudWatch log group missing from DescribeAutoScalingGroups /
  DescribeLogGroups; with `filtered_lag`, a security group missing from describes by
  filter too), and for `profile_window`
  seconds after an instance profile is created or given its role, CreateAutoScalingGroup
  and RunInstances refuse it ("Invalid IAM Instance Profile name"); likewise
  CreateDeploymentGroup / UpdateDeploymentGroup refuse a service role that young
  (InvalidRoleException: CodeDeploy cannot assume it yet). A CreateDeployment while the
  deployment group has one that has not ended is refused (DeploymentLimitExceededException).
- route53: ChangeResourceRecordSets refuses (InvalidChangeBatch) a CNAME at a name that
  has records of another type, and another type at a name that has a CNAME (RFC 1034);
  CreateHostedZone refuses a caller reference used before (HostedZoneAlreadyExists: what
  a retry of a create whose answer was lost meets); moto takes all of these. (moto already
  answers DeleteHostedZone of a zone with records other than its SOA and NS with
  HostedZoneNotEmpty.)
- policy_propagation: for `consistency_window` seconds after an IAM managed policy is
  created, a role cannot be given it: CreateRole with it as PermissionsBoundary,
  PutRolePermissionsBoundary and AttachRolePolicy answer NoSuchEntity ("... does not
  exist or is not attachable"), as IAM does while the policy propagates.

Each rule is a flag of `Strict`, all on by default; `DATOMIC_STRICT=0` turns them all
off (moto as it is), `=1` on.
The layer asks moto itself (its direct URL, never through the proxy) what it needs to
know, e.g. which instances still run in a subnet.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, fields
from typing import Any

from strict_models import check_request

REGION = "us-east-1"
_LIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")


@dataclass(frozen=True)
class Strict:
    """Which of AWS's rules the proxy keeps, and its test-sized durations (seconds)."""

    dependencies: bool = True
    eni_linger: float = 2.0  # network interfaces outlive their instance / load balancer
    consistency: bool = True
    consistency_window: float = 1.0  # a new object is not visible to reads yet
    profile_window: float = 1.5  # a new instance profile is not usable by EC2 yet
    # a new security group is also missing from describes by filter (group-name, vpc-id)
    # for consistency_window seconds; off by default: the whole suite has not run with it
    filtered_lag: bool = False
    # a new managed policy cannot be a role's boundary or attached policy yet (for
    # consistency_window seconds)
    policy_propagation: bool = True
    validation: bool = True  # requests checked against AWS's API models (strict_models.py)
    route53: bool = True  # CNAMEs share their name with no other record; caller references are unique
    # time: state changes take time, AWS's durations scaled down about 60 times
    time: bool = True
    lb_provisioning: float = 2.0  # AWS: a network load balancer ~3 min `provisioning`
    instance_pending: float = 1.0  # AWS: an instance ~1 min `pending`
    in_service: float = 1.0  # AWS: an Auto Scaling instance ~1.5 min `Pending`
    group_deleting: float = 1.5  # AWS: a group ~2 min `Delete in progress`
    table_status: float = 0.5  # AWS: a DynamoDB table ~30 s CREATING / DELETING

    @classmethod
    def off(cls) -> "Strict":
        return cls(dependencies=False, consistency=False, policy_propagation=False, validation=False,
                   time=False, route53=False)

    @classmethod
    def from_env(cls, default: bool) -> "Strict":
        """DATOMIC_STRICT=0 turns every rule off, =1 on; unset: `default`."""
        v = os.environ.get("DATOMIC_STRICT", "").strip().lower()
        on = default if v == "" else v not in ("0", "false", "no", "off")
        return cls() if on else cls.off()

    @property
    def any(self) -> bool:
        return any(getattr(self, f.name) is True for f in fields(self))


@dataclass(frozen=True)
class Refusal:
    """An answer of AWS that the emulator would not give: `code` with HTTP `status`."""

    rule: str  # "dependencies", "consistency", ...
    code: str
    status: int
    message: str


@dataclass
class _Linger:
    until: float
    subnets: frozenset[str]
    groups: frozenset[str]
    vpc: str
    what: str  # e.g. "eni-123 of terminated instance i-456"


@dataclass
class Params:
    """The parameters of one request: flattened form fields (query protocols) or the
    JSON body (JSON protocols)."""

    form: dict[str, list[str]] = field(default_factory=dict)
    doc: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""  # REST protocols: the raw body (Route53's XML, S3 objects)
    headers: dict[str, str] = field(default_factory=dict)  # REST protocols, lower-case names

    @classmethod
    def parse(cls, call: Any, raw_path: str, body: bytes, headers: Any = None) -> "Params":
        if call.protocol == "json":
            try:
                d = json.loads(body or b"{}")
            except ValueError:
                d = {}
            return cls(doc=d if isinstance(d, dict) else {})
        form: dict[str, list[str]] = {}
        if call.protocol == "rest":
            named = {k.lower(): v for k, v in (headers or {}).items()}
            return cls(body=body, headers=named)
        if call.protocol == "query":
            text = body.decode("utf-8", "replace")
            form = urllib.parse.parse_qs(text, keep_blank_values=True)
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(raw_path).query, keep_blank_values=True)
            for k, v in query.items():
                form.setdefault(k, v)
        return cls(form=form)

    def get(self, name: str) -> str | None:
        v = self.form.get(name)
        return v[0] if v else None

    def listed(self, prefix: str) -> list[str]:
        """Values of a flattened list: `prefix.1`, `prefix.2`, ... (EC2 writes
        `GroupId.1`, the query protocol `AutoScalingGroupNames.member.1`)."""
        pat = re.compile(re.escape(prefix) + r"\.(\d+)$")
        out = [(int(m.group(1)), v[0]) for k, v in self.form.items() if (m := pat.match(k)) and v]
        return [v for _, v in sorted(out)]


def _first(tag: str, text: str) -> str | None:
    m = re.search(rf"<{tag}>([^<]*)</{tag}>", text)
    return m.group(1) if m else None


def top_members(text: str, container: str, tag: str = "member") -> list[tuple[int, int]]:
    """Spans of the direct <member> (or <tag>) children of every <container> element of
    a query-protocol XML answer (members nest: a group's instances are members too),
    in document order. A container holding a container of its own name is not handled."""
    spans = []
    pos = 0
    while (start := text.find(f"<{container}>", pos)) >= 0:
        end = text.find(f"</{container}>", start)
        if end < 0:
            break
        depth, open_at = 0, 0
        for m in re.finditer(rf"<(/?){tag}>", text[start:end]):
            if m.group(1) == "":
                if depth == 0:
                    open_at = start + m.start()
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    spans.append((open_at, start + m.end()))
        pos = end
    return spans


def _epoch(iso: str) -> float:
    """An AWS timestamp (2026-01-01T00:00:00.000Z) as seconds since the epoch."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _with_length(headers: list, data: bytes) -> list:
    """The headers of a rewritten answer: its length, and DynamoDB's body checksum."""
    import zlib

    fixed = {"content-length": str(len(data)), "x-amz-crc32": str(zlib.crc32(data) & 0xFFFFFFFF)}
    return [(k, fixed.get(k.lower(), v)) for k, v in headers]


class StrictLayer:
    """The rules of `Strict`, applied by a RecordingProxy to each call: `refuse` before a
    call is forwarded (an AWS error instead of moto's answer), `prepare` just before it is
    forwarded, `observe` after moto answered (records creates and deletes, and may rewrite
    the answer)."""

    def __init__(self, config: Strict, direct_url: str) -> None:
        self.config = config
        self.direct_url = direct_url
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._created: dict[tuple[str, str], float] = {}
        self._lingering: list[_Linger] = []
        self._launched: dict[str, float] = {}  # instance id -> launch time (epoch)
        self._deleting_groups: dict[str, tuple[float, str]] = {}  # name -> (until, member XML)
        self._deleting_pending: dict[str, str] = {}  # name -> member XML, until its delete succeeds
        self._deleting_tables: dict[str, tuple[float, dict]] = {}  # name -> (until, description)
        self.refusals: list[tuple[str, str, Refusal]] = []  # (service, action, refusal)
        self.errors: list[str] = []  # faults of the layer itself (a test fails on any)
        # requests AWS would refuse by its API models: (service, action, why); a test
        # fails on any (see conftest.py)
        self.invalid: list[tuple[str, str, str]] = []
        # over the whole session (never reset): rule -> how many calls it refused
        self.totals: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self._created.clear()
            self._lingering.clear()
            self._launched.clear()
            self._deleting_groups.clear()
            self._deleting_pending.clear()
            self._deleting_tables.clear()
            self.refusals.clear()
            self.errors.clear()
            self.invalid.clear()

    # moto itself -------------------------------------------------------------------

    def client(self, service: str) -> Any:
        with self._lock:
            c = self._clients.get(service)
            if c is None:
                import boto3
                from botocore.config import Config

                c = boto3.session.Session().client(
                    service, endpoint_url=self.direct_url, region_name=REGION,
                    aws_access_key_id="testing", aws_secret_access_key="testing",
                    config=Config(retries={"max_attempts": 1}),
                )
                self._clients[service] = c
            return c

    def _instances(self) -> list[dict]:
        out = []
        for page in self.client("ec2").get_paginator("describe_instances").paginate():
            for r in page["Reservations"]:
                out.extend(r["Instances"])
        return out

    def _live_instances(self) -> dict[str, dict]:
        return {i["InstanceId"]: i for i in self._instances() if i["State"]["Name"] in _LIVE_STATES}

    # the rules ---------------------------------------------------------------------

    def refuse(self, call: Any, p: Params) -> Refusal | None:
        r = None
        if self.config.validation:
            bad = check_request(call, p.form, p.doc)
            if bad is not None:
                r = Refusal("validation", bad.code, bad.status, bad.message)
                with self._lock:
                    self.invalid.append((call.service, call.action, bad.message))
        if r is None and self.config.validation:
            r = self._kms_window(call, p)
        if r is None and self.config.validation:
            r = self._object_checksum(call, p)
        if r is None and self.config.dependencies:
            r = self._dependencies(call, p)
        if r is None and self.config.dependencies:
            r = self._network_lb_groups(call, p)
        if r is None and self.config.consistency:
            r = self._consistency(call, p)
        if r is None and self.config.consistency:
            r = self._already_exists(call, p)
        if r is None and self.config.consistency:
            r = self._active_deployment(call, p)
        if r is None and self.config.policy_propagation:
            r = self._policy_propagation(call, p)
        if r is None and self.config.route53:
            r = self._records(call, p) or self._caller_reference(call, p)
        if r is not None:
            with self._lock:
                self.refusals.append((call.service, call.action, r))
                self.totals[r.rule] = self.totals.get(r.rule, 0) + 1
        return r

    def _object_checksum(self, call: Any, p: Params) -> Refusal | None:
        """S3 checks an object's bytes against the SHA-256 sent with them
        (`x-amz-checksum-sha256`) and refuses a mismatch (BadDigest); moto stores the
        value it was given. Plain bodies only (not `aws-chunked`, whose checksum is a
        trailer)."""
        sent = p.headers.get("x-amz-checksum-sha256")
        if call.service != "s3" or call.method != "PUT" or not sent:
            return None
        if "aws-chunked" in p.headers.get("content-encoding", ""):
            return None
        actual = base64.b64encode(hashlib.sha256(p.body).digest()).decode()
        if actual == sent:
            return None
        return Refusal("validation", "BadDigest", 400, "The SHA256 you specified did not match the calculated checksum.")

    def _active_deployment(self, call: Any, p: Params) -> Refusal | None:
        """AWS runs one deployment per deployment group at a time: a CreateDeployment while
        one has not ended (e.g. a create retried after its answer was lost) is refused
        (moto makes a second one)."""
        if (call.service, call.action) != ("codedeploy", "CreateDeployment"):
            return None
        app, group = p.doc.get("applicationName"), p.doc.get("deploymentGroupName")
        if not isinstance(app, str) or not isinstance(group, str):
            return None
        cd = self.client("codedeploy")
        try:
            ids = cd.list_deployments(applicationName=app, deploymentGroupName=group)["deployments"]
            for d in ids:  # each read advances the emulator's deployment (scripts/emulator_codedeploy.py)
                if cd.get_deployment(deploymentId=d)["deploymentInfo"]["status"] in (
                        "Created", "Queued", "InProgress", "Ready"):
                    return Refusal("consistency", "DeploymentLimitExceededException", 400,
                                   f"The Deployment Group '{group}' for Application '{app}' already has an "
                                   f"active Deployment '{d}'")
        except Exception:  # noqa: BLE001 - cannot tell: let moto answer
            return None

    def _kms_window(self, call: Any, p: Params) -> Refusal | None:
        """KMS refuses a key deletion window under 7 days (the model says 1; moto takes it),
        and a key policy naming an IAM role that does not exist (moto takes any)."""
        if (call.service, call.action) in (("kms", "CreateKey"), ("kms", "PutKeyPolicy")):
            return self._key_policy_principals(p.doc.get("Policy"))
        if (call.service, call.action) != ("kms", "ScheduleKeyDeletion"):
            return None
        days = p.doc.get("PendingWindowInDays", 30)
        if isinstance(days, int) and days < 7:
            return Refusal("validation", "ValidationException", 400,
                           f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
                           "satisfy constraint: Member must have value greater than or equal to 7")
        return None

    def _key_policy_principals(self, policy: Any) -> Refusal | None:
        if not isinstance(policy, str):
            return None
        try:
            doc = json.loads(policy)
        except ValueError:
            return None
        statements = doc.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        for st in statements:
            principal = st.get("Principal") if isinstance(st, dict) else None
            arns = principal.get("AWS", []) if isinstance(principal, dict) else []
            for arn in arns if isinstance(arns, list) else [arns]:
                if not isinstance(arn, str) or ":role/" not in arn:
                    continue
                try:
                    self.client("iam").get_role(RoleName=arn.rsplit("/", 1)[-1])
                except Exception:  # noqa: BLE001 - no such role
                    return Refusal("validation", "MalformedPolicyDocumentException", 400,
                                   "Policy contains a statement with one or more invalid principals.")
        return None

    def _already_exists(self, call: Any, p: Params) -> Refusal | None:
        """AWS refuses a second CreateAutoScalingGroup of a name (moto replaces the first
        group and orphans its instances): with reads not seeing a new group yet, a retry
        after a lost answer must meet AWS's AlreadyExists, not moto's replacement."""
        if (call.service, call.action) != ("autoscaling", "CreateAutoScalingGroup"):
            return None
        name = p.get("AutoScalingGroupName") or ""
        try:
            found = self.client("autoscaling").describe_auto_scaling_groups(
                AutoScalingGroupNames=[name])["AutoScalingGroups"]
        except Exception:  # noqa: BLE001 - cannot tell: let moto answer
            return None
        if not found:
            return None
        return Refusal("consistency", "AlreadyExists", 400,
                       f"AutoScalingGroup by this name already exists - A group with the name {name} already exists")

    def _records(self, call: Any, p: Params) -> Refusal | None:
        """Route53 refuses a CNAME beside other records of its name, and other records
        beside a CNAME (moto stores both); a DELETE in the same batch frees the name."""
        m = _RRSET_PATH.search(call.path)
        if call.service != "route53" or call.method != "POST" or m is None:
            return None
        try:
            root = ET.fromstring(p.body)
        except ET.ParseError:
            return None
        changes = []
        for ch in root.iter():
            if _local(ch.tag) != "Change":
                continue
            action = _child_text(ch, "Action")
            rrs = next((c for c in ch if _local(c.tag) == "ResourceRecordSet"), None)
            if rrs is not None:
                changes.append((action, _fqdn(_child_text(rrs, "Name")), _child_text(rrs, "Type")))
        if not changes:
            return None
        zone = m.group(1)
        try:
            sets = [r for page in self.client("route53").get_paginator("list_resource_record_sets").paginate(
                HostedZoneId=zone) for r in page["ResourceRecordSets"]]
        except Exception:  # noqa: BLE001 - cannot tell: let moto answer
            return None
        existing = {(_fqdn(r["Name"]), r["Type"]) for r in sets}
        existing -= {(n, t) for a, n, t in changes if a == "DELETE"}
        for action, name, rtype in changes:
            if action not in ("CREATE", "UPSERT"):
                continue
            others = {t for n, t in existing if n == name and t != rtype}
            if rtype == "CNAME" and others:
                return Refusal("route53", "InvalidChangeBatch", 400,
                               f"[RRSet of type CNAME with DNS name {name} is not permitted as it conflicts "
                               f"with other records with the same DNS name in zone {zone}]")
            if rtype != "CNAME" and "CNAME" in others:
                return Refusal("route53", "InvalidChangeBatch", 400,
                               f"[RRSet of type {rtype} with DNS name {name} is not permitted because a "
                               f"conflicting RRSet of type CNAME with the same DNS name already exists in "
                               f"zone {zone}]")
        return None

    def _caller_reference(self, call: Any, p: Params) -> Refusal | None:
        """Route53 refuses a CreateHostedZone whose caller reference was used before;
        moto makes a second zone."""
        if call.service != "route53" or call.method != "POST" or not _ZONES_PATH.search(call.path):
            return None
        try:
            ref = _child_text(ET.fromstring(p.body), "CallerReference")
            zones = [z for page in self.client("route53").get_paginator("list_hosted_zones").paginate()
                     for z in page["HostedZones"]]
        except Exception:  # noqa: BLE001 - cannot tell: let moto answer
            return None
        if not ref or not any(z.get("CallerReference") == ref for z in zones):
            return None
        return Refusal("route53", "HostedZoneAlreadyExists", 409,
                       f"A hosted zone has already been created with the specified caller reference {ref}.")

    def prepare(self, call: Any, p: Params) -> Any:
        """What must be known before the call takes effect in moto (returned to `observe`)."""
        if self.config.time and (call.service, call.action) == ("autoscaling", "DeleteAutoScalingGroup"):
            self._capture_group(p.get("AutoScalingGroupName") or "")
        if not self.config.dependencies:
            return None
        if (call.service, call.action) in _TERMINATING:
            return self._live_instances()
        if call.service == "elasticloadbalancing" and call.action == "DeleteLoadBalancer":
            arn = p.get("LoadBalancerArn")
            try:
                lbs = self.client("elbv2").describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
            except Exception:  # noqa: BLE001 - absent: nothing will linger
                return None
            return lbs
        return None

    def observe(self, call: Any, p: Params, before: Any, answer: tuple[int, list, bytes]) -> tuple[int, list, bytes]:
        status, headers, data = answer
        if status >= 300:
            table = self.deleting_table(call, p)
            if status == 400 and table is not None:
                data = json.dumps({"Table": table}).encode()
                return 200, _with_length(headers, data), data
            return answer
        now = time.monotonic()
        text = data.decode("utf-8", "replace")
        if self.config.dependencies and before is not None:
            self._record_lingering(call, before, now)
        if self.config.time:
            status, headers, data = self._time(call, p, (status, headers, data))
            text = data.decode("utf-8", "replace")
        if self.config.consistency or self.config.policy_propagation:
            self._record_created(call, p, text, now)
        if self.config.consistency:
            hidden = text
            if call.service == "autoscaling" and call.action == "DescribeAutoScalingGroups":
                hidden = self._hide_fresh(text, "AutoScalingGroups", "member", "AutoScalingGroupName", "asg")
            if self.config.filtered_lag and call.service == "ec2" and call.action == "DescribeSecurityGroups":
                hidden = self._hide_fresh(text, "securityGroupInfo", "item", "groupId", "sg")
            if hidden != text:
                data = hidden.encode()
                headers = _with_length(headers, data)
            if call.service == "logs" and call.action == "DescribeLogGroups":
                data = self._hide_fresh_log_groups(data)
                headers = _with_length(headers, data)
        return status, headers, data

    def _hide_fresh(self, text: str, container: str, tag: str, key_tag: str, kind: str) -> str:
        """`text` (a query-protocol XML answer) without the members of `container` whose
        `key_tag` names an object of `kind` created less than consistency_window ago."""
        for start, end in reversed(top_members(text, container, tag)):
            key = _first(key_tag, text[start:end])
            if key and self._fresh(kind, key, self.config.consistency_window):
                text = text[:start] + text[end:]
        return text

    def _hide_fresh_log_groups(self, data: bytes) -> bytes:
        try:
            doc = json.loads(data or b"{}")
        except ValueError:
            return data
        groups = doc.get("logGroups")
        if not isinstance(groups, list):
            return data
        shown = [g for g in groups if not (isinstance(g, dict) and self._fresh(
            "log-group", str(g.get("logGroupName") or ""), self.config.consistency_window))]
        if len(shown) == len(groups):
            return data
        doc["logGroups"] = shown
        return json.dumps(doc).encode()

    # dependencies

    def _record_lingering(self, call: Any, before: Any, now: float) -> None:
        until = now + self.config.eni_linger
        entries = []
        if isinstance(before, dict):  # instances live before a terminating call
            live = self._live_instances()
            for iid, i in before.items():
                if iid in live:
                    continue
                enis = [n["NetworkInterfaceId"] for n in i.get("NetworkInterfaces", [])] or [f"eni of {iid}"]
                entries.append(_Linger(
                    until, frozenset([i.get("SubnetId", "")]),
                    frozenset(g["GroupId"] for g in i.get("SecurityGroups", [])), i.get("VpcId", ""),
                    f"{', '.join(enis)} of terminated instance {iid}"))
        else:  # load balancers just deleted
            for lb in before:
                entries.append(_Linger(
                    until, frozenset(z.get("SubnetId", "") for z in lb.get("AvailabilityZones", [])),
                    frozenset(lb.get("SecurityGroups", [])), lb.get("VpcId", ""),
                    f"network interfaces of deleted load balancer {lb.get('LoadBalancerName')}"))
        with self._lock:
            self._lingering = [x for x in self._lingering if x.until > now] + entries

    def _lingering_for(self, subnet: str = "", group: str = "", vpc: str = "") -> list[str]:
        now = time.monotonic()
        with self._lock:
            return [x.what for x in self._lingering if x.until > now and (
                (subnet and subnet in x.subnets) or (group and group in x.groups) or (vpc and vpc == x.vpc))]

    def _dependencies(self, call: Any, p: Params) -> Refusal | None:
        if call.service != "ec2" or call.action not in ("DeleteSubnet", "DeleteSecurityGroup", "DeleteVpc"):
            return None
        if call.action == "DeleteSecurityGroup":
            group = p.get("GroupId") or ""
            if not group and p.get("GroupName"):
                found = self.client("ec2").describe_security_groups(
                    Filters=[{"Name": "group-name", "Values": [p.get("GroupName")]}])["SecurityGroups"]
                group = found[0]["GroupId"] if found else ""
            if not group:
                return None
            users = [f"{eni['NetworkInterfaceId']} of instance {i['InstanceId']}"
                     for i in self._live_instances().values()
                     if any(g["GroupId"] == group for g in i.get("SecurityGroups", []))
                     for eni in i.get("NetworkInterfaces", [])]
            users += [f"load balancer {lb['LoadBalancerName']}" for lb in self._load_balancers()
                      if group in lb.get("SecurityGroups", [])]
            users += [f"a rule of {g['GroupId']}" for g in self.client("ec2").describe_security_groups()["SecurityGroups"]
                      if g["GroupId"] != group and any(
                          u.get("GroupId") == group
                          for perm in g.get("IpPermissions", []) + g.get("IpPermissionsEgress", [])
                          for u in perm.get("UserIdGroupPairs", []))]
            users += self._standalone_interfaces("group-id", group)
            users += self._lingering_for(group=group)
            if users:
                return Refusal("dependencies", "DependencyViolation", 400,
                               f"resource {group} has a dependent object")
            return None
        if call.action == "DeleteSubnet":
            subnet = p.get("SubnetId") or ""
            users = [i["InstanceId"] for i in self._live_instances().values() if i.get("SubnetId") == subnet]
            users += [lb["LoadBalancerName"] for lb in self._load_balancers()
                      if any(z.get("SubnetId") == subnet for z in lb.get("AvailabilityZones", []))]
            users += self._standalone_interfaces("subnet-id", subnet)
            users += self._lingering_for(subnet=subnet)
            if users:
                return Refusal("dependencies", "DependencyViolation", 400,
                               f"The subnet '{subnet}' has dependencies and cannot be deleted.")
            return None
        vpc = p.get("VpcId") or ""
        users = [i["InstanceId"] for i in self._live_instances().values() if i.get("VpcId") == vpc]
        users += [lb["LoadBalancerName"] for lb in self._load_balancers() if lb.get("VpcId") == vpc]
        users += [g["GroupId"] for g in self.client("ec2").describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"] if g["GroupName"] != "default"]
        users += self._lingering_for(vpc=vpc)
        if users:
            return Refusal("dependencies", "DependencyViolation", 400,
                           f"The vpc '{vpc}' has dependencies and cannot be deleted.")
        return None

    def _network_lb_groups(self, call: Any, p: Params) -> Refusal | None:
        """AWS gives a Network Load Balancer security groups only at creation: one made
        without can never get any (moto sets them all the same). Its subnets may grow
        (SetSubnets) but never shrink: moto lets a zone go."""
        if (call.service, call.action) == ("elasticloadbalancing", "SetSubnets"):
            return self._network_lb_subnets(p)
        if (call.service, call.action) != ("elasticloadbalancing", "SetSecurityGroups"):
            return None
        try:
            lbs = self.client("elbv2").describe_load_balancers(
                LoadBalancerArns=[p.get("LoadBalancerArn")])["LoadBalancers"]
        except Exception:  # noqa: BLE001 - absent: let moto answer
            return None
        if lbs and lbs[0].get("Type") == "network" and not lbs[0].get("SecurityGroups"):
            return Refusal("dependencies", "InvalidConfigurationRequest", 400,
                           "You cannot set security groups on a Network Load Balancer which was created without any security groups.")
        return None

    def _standalone_interfaces(self, name: str, value: str) -> list[str]:
        """Network interfaces of no instance (an EFS mount target's) in a group or subnet:
        AWS keeps the group or subnet while they exist; moto deletes it."""
        try:
            enis = self.client("ec2").describe_network_interfaces(
                Filters=[{"Name": name, "Values": [value]}])["NetworkInterfaces"]
        except Exception:  # noqa: BLE001 - a filter moto lacks: nothing to add
            return []
        return [f"network interface {e['NetworkInterfaceId']}" for e in enis
                if not e.get("Attachment", {}).get("InstanceId")]

    def _network_lb_subnets(self, p: Params) -> Refusal | None:
        try:
            lbs = self.client("elbv2").describe_load_balancers(
                LoadBalancerArns=[p.get("LoadBalancerArn")])["LoadBalancers"]
        except Exception:  # noqa: BLE001 - absent: let moto answer
            return None
        if not lbs or lbs[0].get("Type") != "network":
            return None
        wanted = set(p.listed("Subnets.member"))
        dropped = [z["SubnetId"] for z in lbs[0].get("AvailabilityZones", []) if z.get("SubnetId") not in wanted]
        if dropped:
            return Refusal("dependencies", "ValidationError", 400,
                           f"Subnets cannot be removed from a Network Load Balancer: {', '.join(dropped)}")
        return None

    def _load_balancers(self) -> list[dict]:
        out = []
        for page in self.client("elbv2").get_paginator("describe_load_balancers").paginate():
            out.extend(page["LoadBalancers"])
        return out

    # consistency

    def _record_created(self, call: Any, p: Params, text: str, now: float) -> None:
        keys: list[tuple[str, str]] = []
        if call.service == "ec2":
            if call.action == "CreateSecurityGroup":
                keys = [("sg", _first("groupId", text) or ""), ("sg-name", p.get("GroupName") or "")]
            elif call.action == "CreateVpc":
                keys = [("vpc", _first("vpcId", text) or "")]
            elif call.action == "CreateSubnet":
                keys = [("subnet", _first("subnetId", text) or "")]
            elif call.action == "CreateLaunchTemplate":
                keys = [("lt", _first("launchTemplateId", text) or ""), ("lt-name", p.get("LaunchTemplateName") or "")]
        elif call.service == "iam":
            if call.action == "CreateRole":
                keys = [("role", p.get("RoleName") or "")]
            elif call.action == "CreateInstanceProfile":
                keys = [("profile", p.get("InstanceProfileName") or ""),
                        ("profile-use", p.get("InstanceProfileName") or "")]
            elif call.action == "AddRoleToInstanceProfile":
                keys = [("profile-use", p.get("InstanceProfileName") or "")]
            elif call.action == "CreatePolicy":
                keys = [("policy", _first("Arn", text) or "")]
        elif call.service == "autoscaling" and call.action == "CreateAutoScalingGroup":
            keys = [("asg", p.get("AutoScalingGroupName") or "")]
        elif call.service == "logs" and call.action == "CreateLogGroup":
            keys = [("log-group", str(p.doc.get("logGroupName") or ""))]
        with self._lock:
            for k in keys:
                if k[1]:
                    self._created[k] = now

    def _fresh(self, kind: str, key: str, window: float) -> bool:
        with self._lock:
            t = self._created.get((kind, key))
        return t is not None and time.monotonic() - t < window

    def _consistency(self, call: Any, p: Params) -> Refusal | None:
        w = self.config.consistency_window
        if call.service == "ec2":
            a = call.action
            checks: list[tuple[str, list[str], str, str]] = []
            if a == "DescribeSecurityGroups":
                checks = [("sg", p.listed("GroupId"), "InvalidGroup.NotFound", "The security group '{}' does not exist"),
                          ("sg-name", p.listed("GroupName"), "InvalidGroup.NotFound",
                           "The security group '{}' does not exist in default VPC")]
            elif a == "DescribeVpcs":
                checks = [("vpc", p.listed("VpcId"), "InvalidVpcID.NotFound", "The vpc ID '{}' does not exist")]
            elif a == "DescribeSubnets":
                checks = [("subnet", p.listed("SubnetId"), "InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist")]
            elif a in ("DescribeLaunchTemplates", "DescribeLaunchTemplateVersions"):
                ids = p.listed("LaunchTemplateId") + ([p.get("LaunchTemplateId")] if p.get("LaunchTemplateId") else [])
                names = p.listed("LaunchTemplateName") + ([p.get("LaunchTemplateName")] if p.get("LaunchTemplateName") else [])
                checks = [("lt", ids, "InvalidLaunchTemplateId.NotFound",
                           "The specified launch template, with template ID {}, does not exist."),
                          ("lt-name", names, "InvalidLaunchTemplateName.NotFoundException",
                           "At least one of the launch templates specified in the request does not exist.")]
            elif a == "RunInstances":
                profile = _profile_name(p.get("IamInstanceProfile.Name") or p.get("IamInstanceProfile.Arn") or "")
                if not profile:
                    profile = self._template_profile(p.get("LaunchTemplate.LaunchTemplateId"),
                                                     p.get("LaunchTemplate.LaunchTemplateName"),
                                                     p.get("LaunchTemplate.Version"))
                if profile and self._fresh("profile-use", profile, self.config.profile_window):
                    return Refusal("consistency", "InvalidParameterValue", 400,
                                   f"Value ({profile}) for parameter iamInstanceProfile.name is invalid. "
                                   "Invalid IAM Instance Profile name")
            for kind, values, code, message in checks:
                for v in values:
                    if self._fresh(kind, v, w):
                        return Refusal("consistency", code, 400, message.format(v))
            return None
        if call.service == "iam":
            a = call.action
            if a in ("GetRole", "GetRolePolicy", "ListRolePolicies") and self._fresh("role", p.get("RoleName") or "", w):
                return Refusal("consistency", "NoSuchEntity", 404,
                               f"The role with name {p.get('RoleName')} cannot be found.")
            if a in ("GetPolicy", "GetPolicyVersion", "ListPolicyVersions", "ListPolicyTags") \
                    and self._fresh("policy", p.get("PolicyArn") or "", w):
                return Refusal("consistency", "NoSuchEntity", 404,
                               f"Policy {p.get('PolicyArn')} was not found.")
            if a == "GetInstanceProfile" and self._fresh("profile", p.get("InstanceProfileName") or "", w):
                return Refusal("consistency", "NoSuchEntity", 404,
                               f"Instance Profile {p.get('InstanceProfileName')} cannot be found.")
            return None
        if call.service == "codedeploy" and call.action in ("CreateDeploymentGroup", "UpdateDeploymentGroup"):
            role = str(p.doc.get("serviceRoleArn") or "").rsplit("/", 1)[-1]
            if role and self._fresh("role", role, self.config.profile_window):
                return Refusal("consistency", "InvalidRoleException", 400,
                               "AWS CodeDeploy does not have the permissions required to assume the role "
                               f"{p.doc.get('serviceRoleArn')}.")
            return None
        if call.service == "autoscaling" and call.action in ("CreateAutoScalingGroup", "UpdateAutoScalingGroup"):
            profile = self._template_profile(p.get("LaunchTemplate.LaunchTemplateId"),
                                             p.get("LaunchTemplate.LaunchTemplateName"),
                                             p.get("LaunchTemplate.Version"))
            if profile and self._fresh("profile-use", profile, self.config.profile_window):
                return Refusal("consistency", "ValidationError", 400,
                               "You must use a valid fully-formed launch template. Value "
                               f"({profile}) for parameter iamInstanceProfile.name is invalid. "
                               "Invalid IAM Instance Profile name")
        return None

    def _policy_propagation(self, call: Any, p: Params) -> Refusal | None:
        """IAM refuses a managed policy made a moment ago as a role's permissions boundary
        or attached policy (moto accepts it at once)."""
        if call.service != "iam":
            return None
        w = self.config.consistency_window
        if call.action in ("CreateRole", "PutRolePermissionsBoundary"):
            arn = p.get("PermissionsBoundary") or ""
            if arn and self._fresh("policy", arn, w):
                return Refusal("policy_propagation", "NoSuchEntity", 404,
                               f"Scope ARN: {arn} does not exist or is not attachable.")
        elif call.action == "AttachRolePolicy":
            arn = p.get("PolicyArn") or ""
            if arn and self._fresh("policy", arn, w):
                return Refusal("policy_propagation", "NoSuchEntity", 404,
                               f"Policy {arn} does not exist or is not attachable.")
        return None

    # time

    def _time(self, call: Any, p: Params, answer: tuple[int, list, bytes]) -> tuple[int, list, bytes]:
        status, headers, data = answer
        key = (call.service, call.action)
        now = time.monotonic()
        if call.protocol == "json" and call.service == "dynamodb":
            new_data = self._table_time(call, p, data, now)
            return status, _with_length(headers, new_data), new_data
        text = data.decode("utf-8", "replace")
        new = text
        if key == ("elasticloadbalancing", "CreateLoadBalancer"):
            arn = _first("LoadBalancerArn", text)
            if arn:
                with self._lock:
                    self._created[("lb", arn)] = now
        elif key == ("elasticloadbalancing", "DescribeLoadBalancers"):
            for start, end in reversed(top_members(text, "LoadBalancers")):
                item = new[start:end]
                if self._fresh("lb", _first("LoadBalancerArn", item) or "", self.config.lb_provisioning):
                    item = item.replace("<Code>active</Code>", "<Code>provisioning</Code>")
                    new = new[:start] + item + new[end:]
        elif key == ("ec2", "DescribeInstances"):
            for start, end in reversed(top_members(text, "instancesSet", "item")):
                item = new[start:end]
                launched = _epoch(_first("launchTime", item) or "")
                if time.time() - launched < self.config.instance_pending:
                    item = item.replace("<instanceState><code>16</code><name>running</name></instanceState>",
                                        "<instanceState><code>0</code><name>pending</name></instanceState>")
                    new = new[:start] + item + new[end:]
        elif key == ("autoscaling", "DescribeAutoScalingGroups"):
            new = self._groups_time(p, text)
        elif key == ("autoscaling", "DeleteAutoScalingGroup"):
            name = p.get("AutoScalingGroupName") or ""
            with self._lock:
                member = self._deleting_pending.pop(name, None)
                if member is not None:
                    self._deleting_groups[name] = (now + self.config.group_deleting, member)
        if new == text:
            return answer
        data = new.encode()
        return status, _with_length(headers, data), data

    def _launch_time(self, instance: str) -> float:
        with self._lock:
            t = self._launched.get(instance)
        if t is None:
            try:
                rs = self.client("ec2").describe_instances(InstanceIds=[instance])["Reservations"]
                t = rs[0]["Instances"][0]["LaunchTime"].timestamp()
            except Exception:  # noqa: BLE001 - gone: long launched
                t = 0.0
            with self._lock:
                self._launched[instance] = t
        return t

    def _groups_time(self, p: Params, text: str) -> str:
        new = text
        # instances of a group: Pending for a while after their launch
        for gs, ge in reversed(top_members(text, "AutoScalingGroups")):
            group = new[gs:ge]
            changed = group
            for s, e in reversed(top_members(group, "Instances")):
                inst = changed[s:e]
                iid = _first("InstanceId", inst) or ""
                if "<LifecycleState>InService</LifecycleState>" in inst and \
                        time.time() - self._launch_time(iid) < self.config.in_service:
                    inst = inst.replace("<LifecycleState>InService</LifecycleState>",
                                        "<LifecycleState>Pending</LifecycleState>")
                    changed = changed[:s] + inst + changed[e:]
            if changed != group:
                new = new[:gs] + changed + new[ge:]
        # groups being deleted: still there, `Delete in progress`
        names = p.listed("AutoScalingGroupNames.member")
        unfiltered = not names and not p.listed("Filters.member")
        now = time.monotonic()
        with self._lock:
            deleting = {n: x for n, (until, x) in self._deleting_groups.items() if until > now}
        present = {_first("AutoScalingGroupName", new[s:e]) for s, e in top_members(new, "AutoScalingGroups")}
        extra = "".join(x for n, x in deleting.items() if n not in present and (unfiltered or n in names))
        if extra:
            if "<AutoScalingGroups/>" in new:
                new = new.replace("<AutoScalingGroups/>", f"<AutoScalingGroups>{extra}</AutoScalingGroups>", 1)
            else:
                new = new.replace("</AutoScalingGroups>", f"{extra}</AutoScalingGroups>", 1)
        return new

    def _capture_group(self, name: str) -> None:
        """Keeps the group as moto has it before its deletion, to be answered (`Delete in
        progress`, its instances Terminating) for a while after it."""
        import urllib.request

        auth = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/autoscaling/aws4_request, "
                "SignedHeaders=host, Signature=0")
        body = urllib.parse.urlencode({"Action": "DescribeAutoScalingGroups", "Version": "2011-01-01",
                                       "AutoScalingGroupNames.member.1": name}).encode()
        req = urllib.request.Request(self.direct_url + "/", data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Authorization": auth})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode("utf-8", "replace")
        spans = top_members(text, "AutoScalingGroups")
        if not spans:
            return
        member = text[spans[0][0]:spans[0][1]]
        member = re.sub(r"<LifecycleState>[^<]*</LifecycleState>",
                        "<LifecycleState>Terminating</LifecycleState>", member)
        member = re.sub(r"<Status>[^<]*</Status>", "", member)
        member = member.replace("</AutoScalingGroupName>",
                                "</AutoScalingGroupName><Status>Delete in progress</Status>", 1)
        with self._lock:
            self._deleting_pending[name] = member

    def _table_time(self, call: Any, p: Params, data: bytes, now: float) -> bytes:
        name = p.doc.get("TableName") if isinstance(p.doc.get("TableName"), str) else ""
        try:
            doc = json.loads(data or b"{}")
        except ValueError:
            return data
        w = self.config.table_status
        if call.action == "CreateTable" and isinstance(doc.get("TableDescription"), dict):
            with self._lock:
                self._created[("table", name)] = now
                self._deleting_tables.pop(name, None)
            doc["TableDescription"]["TableStatus"] = "CREATING"
        elif call.action == "DeleteTable" and isinstance(doc.get("TableDescription"), dict):
            doc["TableDescription"]["TableStatus"] = "DELETING"
            with self._lock:
                self._deleting_tables[name] = (now + w, doc["TableDescription"])
        elif call.action == "DescribeTable" and isinstance(doc.get("Table"), dict):
            if self._fresh("table", name, w):
                doc["Table"]["TableStatus"] = "CREATING"
        else:
            return data
        return json.dumps(doc).encode()

    def deleting_table(self, call: Any, p: Params) -> dict | None:
        """The description of a table being deleted, for a DescribeTable moto answers
        ResourceNotFoundException (the table is gone there at once)."""
        if not self.config.time or (call.service, call.action) != ("dynamodb", "DescribeTable"):
            return None
        with self._lock:
            x = self._deleting_tables.get(str(p.doc.get("TableName")))
        return x[1] if x is not None and x[0] > time.monotonic() else None

    def _template_profile(self, lt_id: str | None, lt_name: str | None, version: str | None) -> str:
        """The instance profile named by a launch template version, "" if none."""
        if not (lt_id or lt_name):
            return ""
        kw: dict[str, Any] = {"LaunchTemplateId": lt_id} if lt_id else {"LaunchTemplateName": lt_name}
        kw["Versions"] = [version or "$Default"]
        try:
            versions = self.client("ec2").describe_launch_template_versions(**kw)["LaunchTemplateVersions"]
        except Exception:  # noqa: BLE001 - moto will answer the call itself
            return ""
        for v in versions:
            prof = (v.get("LaunchTemplateData") or {}).get("IamInstanceProfile") or {}
            return _profile_name(prof.get("Name") or prof.get("Arn") or "")
        return ""


_RRSET_PATH = re.compile(r"/hostedzone/([^/]+)/rrset/?$")
_ZONES_PATH = re.compile(r"/hostedzone/?$")


def _local(tag: str) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def _child_text(e: Any, name: str) -> str:
    return next(((c.text or "").strip() for c in e if _local(c.tag) == name), "")


def _fqdn(name: str) -> str:
    """A DNS name as Route53 compares them: lower case, with the root's dot."""
    n = name.strip().lower()
    return n if n.endswith(".") else n + "."


def _profile_name(name_or_arn: str) -> str:
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn


# Calls that may terminate instances (ec2, autoscaling), whose network interfaces linger.
_TERMINATING = {
    ("ec2", "TerminateInstances"),
    ("autoscaling", "DeleteAutoScalingGroup"),
    ("autoscaling", "TerminateInstanceInAutoScalingGroup"),
    ("autoscaling", "UpdateAutoScalingGroup"),
    ("autoscaling", "SetDesiredCapacity"),
    ("autoscaling", "DetachInstances"),
}

__all__ = ["Strict", "StrictLayer", "Refusal", "Params", "top_members"]
