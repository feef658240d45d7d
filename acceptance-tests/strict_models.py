"""Requests checked against AWS's published API models (botocore's service JSON, shipped
with boto3): required members, types, enum values, lengths, ranges and patterns, and for
EC2 unknown parameters; IAM policy documents against the policy grammar. Used by the
strict layer of the test proxy (strict_aws.py): moto accepts requests AWS refuses.

Query protocols (ec2, iam, autoscaling, elbv2, sts) arrive as flattened form fields,
which are read back into the operation's input structure following botocore's own
serializers; DynamoDB, SSM, CodeDeploy, KMS and CloudWatch Logs (JSON 1.x, X-Amz-Target) are their JSON body; S3 (REST-XML) is
checked where practical: bucket names and object key lengths.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

# SigV4 signing name -> botocore's service name
_SERVICES = {
    "ec2": "ec2", "iam": "iam", "autoscaling": "autoscaling", "elasticloadbalancing": "elbv2",
    "sts": "sts", "dynamodb": "dynamodb", "s3": "s3", "ssm": "ssm",
    "codedeploy": "codedeploy", "kms": "kms", "logs": "logs",
}
_MISSING = object()


@dataclass(frozen=True)
class Invalid:
    """A request AWS would refuse: the error code and status AWS gives, and why."""

    code: str
    status: int
    message: str


@functools.lru_cache(maxsize=None)
def _service_model(name: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(name)


@functools.lru_cache(maxsize=None)
def _pattern(p: str) -> re.Pattern[str] | None:
    # Java-style surrogate pairs of the models -> Python's astral range
    p = p.replace("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF")
    try:
        return re.compile(p, re.DOTALL)
    except re.error:
        return None


# --- query protocols: flattened form fields -> the input structure -------------------------


def _ec2_name(member: str, shape: Any) -> str:
    s = shape.serialization
    if "queryName" in s:
        return s["queryName"]
    if "name" in s:
        return s["name"][0].upper() + s["name"][1:]
    return member


def _indices(form: dict[str, list[str]], prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"\.(\d+)(?:\.|$)")
    return sorted({int(m.group(1)) for k in form if (m := pat.match(k))})


def _read(shape: Any, prefix: str, form: dict[str, list[str]], used: set[str], ec2: bool,
          problems: list[str]) -> Any:
    t = shape.type_name
    if t == "structure":
        out = {}
        for name, m in shape.members.items():
            key = _ec2_name(name, m) if ec2 else m.serialization.get("name", name)
            v = _read(m, f"{prefix}.{key}" if prefix else key, form, used, ec2, problems)
            if v is not _MISSING:
                out[name] = v
        return out if out or not prefix else _MISSING
    if t == "list":
        if not ec2 and form.get(prefix) == [""]:
            used.add(prefix)
            return []
        if ec2:
            base = prefix
        elif shape.serialization.get("flattened"):
            base = prefix
        else:
            base = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
        idx = _indices(form, base)
        if not idx:
            return _MISSING
        return [_read(shape.member, f"{base}.{i}", form, used, ec2, problems) for i in idx]
    if t == "map":
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        kname = shape.key.serialization.get("name", "key")
        vname = shape.value.serialization.get("name", "value")
        idx = _indices(form, base)
        if not idx:
            return _MISSING
        out = {}
        for i in idx:
            k = _read(shape.key, f"{base}.{i}.{kname}", form, used, ec2, problems)
            v = _read(shape.value, f"{base}.{i}.{vname}", form, used, ec2, problems)
            out[k] = v
        return out
    if prefix not in form:
        return _MISSING
    used.add(prefix)
    raw = form[prefix][0]
    if t in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            problems.append(f"Value '{raw}' at '{prefix}' is not a valid {t}")
            return raw
    if t in ("float", "double"):
        try:
            return float(raw)
        except ValueError:
            problems.append(f"Value '{raw}' at '{prefix}' is not a valid number")
            return raw
    if t == "boolean":
        if raw.lower() not in ("true", "false"):
            problems.append(f"Value '{raw}' at '{prefix}' is not a valid boolean")
        return raw.lower() == "true"
    return raw


# --- the constraints of the models --------------------------------------------------------


def _check(shape: Any, value: Any, path: str, problems: list[str]) -> None:
    t = shape.type_name
    meta = shape.metadata
    if t == "structure":
        if not isinstance(value, dict):
            problems.append(f"Value at '{path}' must be a structure")
            return
        for r in shape.required_members:
            if r not in value or value[r] is None:
                problems.append(f"Value null at '{_join(path, r)}' failed to satisfy constraint: Member must not be null")
        for k, v in value.items():
            m = shape.members.get(k)
            if m is None:
                problems.append(f"Unknown member '{_join(path, k)}'")
            elif v is not None:
                _check(m, v, _join(path, k), problems)
        return
    if t == "list":
        if not isinstance(value, list):
            problems.append(f"Value at '{path}' must be a list")
            return
        _length(len(value), meta, path, "Member must have length", problems)
        for i, v in enumerate(value, 1):
            _check(shape.member, v, f"{path}.{i}", problems)
        return
    if t == "map":
        if not isinstance(value, dict):
            problems.append(f"Value at '{path}' must be a map")
            return
        _length(len(value), meta, path, "Member must have length", problems)
        for k, v in value.items():
            _check(shape.key, k, f"{path}.key", problems)
            _check(shape.value, v, f"{path}.{k}", problems)
        return
    if t == "string":
        if not isinstance(value, str):
            problems.append(f"Value at '{path}' must be a string")
            return
        if shape.enum and value not in shape.enum:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        _length(len(value), meta, path, "Member must have length", problems)
        p = meta.get("pattern")
        if p and (rx := _pattern(p)) is not None and rx.fullmatch(value) is None:
            problems.append(f"Value '{value[:80]}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy regular expression pattern: {p}")
        return
    if t in ("integer", "long", "float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"Value at '{path}' must be a number")
            return
        if "min" in meta and value < meta["min"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have value less than or equal to {meta['max']}")
        return
    if t == "boolean" and not isinstance(value, bool):
        problems.append(f"Value at '{path}' must be a boolean")


def _length(n: int, meta: dict, path: str, what: str, problems: list[str]) -> None:
    if "min" in meta and n < meta["min"]:
        problems.append(f"Value at '{path}' failed to satisfy constraint: {what} greater than or equal to {meta['min']}")
    if "max" in meta and n > meta["max"]:
        problems.append(f"Value at '{path}' failed to satisfy constraint: {what} less than or equal to {meta['max']}")


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


# --- IAM policy documents -------------------------------------------------------------------

_STATEMENT_KEYS = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
                   "Resource", "NotResource", "Condition"}
_POLICY_MEMBERS = {"PolicyDocument": False, "AssumeRolePolicyDocument": True}


def policy_problems(doc: str, trust: bool) -> list[str]:
    """What IAM's policy grammar refuses in `doc` (a trust policy when `trust`)."""
    try:
        p = json.loads(doc)
    except ValueError:
        return ["Syntax errors in policy."]
    if not isinstance(p, dict):
        return ["Syntax errors in policy."]
    out = []
    if p.get("Version") not in ("2012-10-17", "2008-10-17", None):
        out.append(f"The policy failed legacy parsing: unknown Version {p.get('Version')!r}")
    extra = set(p) - {"Version", "Id", "Statement"}
    if extra:
        out.append(f"Policy document has unknown fields {sorted(extra)}")
    st = p.get("Statement")
    statements = st if isinstance(st, list) else [st] if isinstance(st, dict) else None
    if not statements:
        return out + ["Missing required field Statement"]
    for s in statements:
        if not isinstance(s, dict):
            out.append("Statement must be an object")
            continue
        if set(s) - _STATEMENT_KEYS:
            out.append(f"Statement has unknown fields {sorted(set(s) - _STATEMENT_KEYS)}")
        if s.get("Effect") not in ("Allow", "Deny"):
            out.append(f"Statement Effect must be Allow or Deny, not {s.get('Effect')!r}")
        if ("Action" in s) == ("NotAction" in s):
            out.append("Statement must have exactly one of Action, NotAction")
        for a in _strings(s.get("Action", s.get("NotAction"))):
            if a != "*" and not re.fullmatch(r"[a-zA-Z0-9-]+:[A-Za-z0-9*?]+", a):
                out.append(f"Statement has an invalid action {a!r}")
        if trust:
            if "Principal" not in s and "NotPrincipal" not in s:
                out.append("Has prohibited field Resource" if "Resource" in s else "Missing required field Principal")
        else:
            if "Principal" in s or "NotPrincipal" in s:
                out.append("Policy document should not specify a principal.")
            if ("Resource" in s) == ("NotResource" in s):
                out.append("Policy statement must contain resources.")
    return out


def _strings(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        return [x for x in v if isinstance(x, str)]
    return []


# --- S3 (REST-XML): what is practical -------------------------------------------------------

_BUCKET = re.compile(r"(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def _s3_problems(path: str) -> list[Invalid]:
    parts = urllib.parse.unquote(path).lstrip("/").split("/", 1)
    bucket = parts[0]
    if not bucket:
        return []
    if not _BUCKET.fullmatch(bucket) or ".." in bucket or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", bucket):
        return [Invalid("InvalidBucketName", 400, f"The specified bucket is not valid: {bucket}")]
    if len(parts) > 1 and len(parts[1].encode()) > 1024:
        return [Invalid("KeyTooLongError", 400, "Your key is too long")]
    return []


# --- the entry point ------------------------------------------------------------------------


def check_request(call: Any, form: dict[str, list[str]], doc: dict[str, Any]) -> Invalid | None:
    """The error AWS would answer `call` with, by its API model, or None when valid."""
    name = _SERVICES.get(call.service)
    if name is None:
        return None
    if call.protocol == "rest":
        found = _s3_problems(call.path) if name == "s3" else []
        return found[0] if found else None
    model = _service_model(name)
    try:
        op = model.operation_model(call.action)
    except Exception:  # noqa: BLE001 - botocore's OperationNotFoundError
        code = "InvalidAction" if call.protocol == "query" else "UnknownOperationException"
        return Invalid(code, 400, f"The action {call.action} is not valid for this web service.")
    shape = op.input_shape
    problems: list[str] = []
    if call.protocol == "json":
        value = doc
    else:
        ec2 = model.protocol == "ec2"
        fields = {k: v for k, v in form.items() if k not in ("Action", "Version")}
        used: set[str] = set()
        value = _read(shape, "", fields, used, ec2, problems) if shape is not None else {}
        if ec2:
            unknown = sorted(set(fields) - used)
            if unknown:
                return Invalid("UnknownParameter", 400, f"The parameter {unknown[0]} is not recognized")
    if shape is not None:
        _check(shape, value if value is not _MISSING else {}, "", problems)
    if name == "iam" and isinstance(value, dict):
        for member, trust in _POLICY_MEMBERS.items():
            # UpdateAssumeRolePolicy names its trust policy PolicyDocument.
            trust = trust or call.action == "UpdateAssumeRolePolicy"
            if isinstance(value.get(member), str):
                bad = policy_problems(value[member], trust)
                if bad:
                    return Invalid("MalformedPolicyDocument", 400, bad[0])
    if not problems:
        return None
    if model.protocol == "ec2":
        missing = [p for p in problems if "must not be null" in p]
        if missing:
            member = missing[0].split("'")[1]
            return Invalid("MissingParameter", 400, f"The request must contain the parameter {member}")
        return Invalid("InvalidParameterValue", 400, problems[0])
    n = len(problems)
    msg = f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(problems)
    if name in ("dynamodb", "ssm", "codedeploy", "kms"):
        return Invalid("ValidationException", 400, msg)
    return Invalid("ValidationError", 400, msg)
