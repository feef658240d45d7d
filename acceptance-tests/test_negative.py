"""Every rule of DESIGN.md and the resource docs, refused at plan time with nothing
written: a matrix of invalid configurations, each planned with `terraform plan -json`
against the emulator (behind the recording proxy). For each:

- the plan fails with an error diagnostic whose summary/detail names the problem (and,
  for the provider's own rules, the allowed values);
- the diagnostic's range covers the offending attribute's line in main.tf (the line
  marked `#!` in the case's configuration);
- the emulator saw ZERO write calls during the plan (reads are fine: the checks against
  existing systems read them);
- for static rules, `terraform validate -json` (no provider configuration, no AWS)
  refuses the same configuration too.

The "existing object" cases plan against systems created once for this module
(`existing`): a production system `negprod` with a query group `web` running application
"web", and a solo system `negsolo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

from harness import Diagnostic, Emulator, Terraform, diagnostics_from_doc, provider_hcl

MARK = "#!"
# Terraform's own refusals (types, missing and unknown arguments): not the provider's words.
TERRAFORM_SUMMARIES = ("Incorrect attribute value type", "Missing required argument", "Unsupported argument")
# How the provider's details say what is allowed (most: "Allowed: ..."; each case's
# `expect` names the allowed values themselves).
ALLOWED_WORDS = ("Allowed", "such as", "e.g.", "at least", "set both", "Remove ")


@dataclass
class Case:
    id: str
    config: str  # resources; the offending line ends with "#!"
    expect: list[str]  # all in the error's summary + detail (case-insensitive)
    static: bool = True  # refused without AWS, by validate too
    imports: dict[str, str] = field(default_factory=dict)  # state set up by import first
    xfail: str | None = None  # a provider bug this case exposes (strict: fails once fixed)


def sys_(body: str, name: str = "neg") -> str:
    return f'resource "datomic_system" "s" {{\n  name = "{name}"\n{body}}}\n'


def qg(body: str, system: str = "negprod", name: str | None = "q") -> str:
    name_line = f'  name = "{name}"\n' if name is not None else ""
    return f'resource "datomic_query_group" "q" {{\n  system = "{system}"\n{name_line}{body}}}\n'


def app(body: str, system: str = "negprod") -> str:
    return f'resource "datomic_application" "a" {{\n  system = "{system}"\n{body}}}\n'


def system_named(name: str, *expect: str) -> Case:
    return Case(f"system-name-{name or 'empty'}"[:60],
                f'resource "datomic_system" "s" {{\n  name = "{name}" {MARK}\n  topology = "solo"\n}}\n',
                ["Invalid system name", "1-24 characters", *expect])


def group_named(name: str, *expect: str) -> Case:
    return Case(f"query-group-name-{name or 'empty'}"[:60],
                qg("", name=None).replace("\n}", f'\n  name = "{name}" {MARK}\n}}', 1),
                ["Invalid query group name", "1-24 characters", *expect])


def hcl_string(s: str) -> str:
    """`s` as an HCL quoted string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("${", "$${").replace("%{", "%%{") + '"'


def policy(doc: str, *expect: str, id_: str) -> Case:
    return Case(f"iam-policy-{id_}",
                app(f'  name = "negprod"\n  revision = "r1"\n  iam_policy = {hcl_string(doc)} {MARK}\n'), list(expect))


def tx_function(fn: str, *expect: str, id_: str) -> Case:
    return Case(f"transaction-function-{id_}",
                app(f'  name = "negprod"\n  revision = "r1"\n  transaction_functions = [\n    "ok.ns/f",\n    "{fn}", {MARK}\n  ]\n'),
                ["transaction function", *expect])

SOLO_TYPES = '"t2.small"'
PRODUCTION_TYPES = '"i3.large", "i3.xlarge"'
QUERY_GROUP_TYPES = '"t2.medium", "m5.large", "i3.large", "i3.xlarge"'
NAME_25 = "a" + "b" * 24

CASES: list[Case] = [
    # --- system names (our rule: 1-24 of a-z 0-9 -, starts with a letter, not "datomic")
    system_named(NAME_25, "25 characters long"),
    system_named("Prod", "uppercase"),
    system_named("1prod", "does not start with a letter"),
    system_named("datomic", "reserved"),
    system_named("prod-", "ends with a hyphen"),
    system_named("pr--od", '"--"'),
    system_named("my_prod", "'_'"),
    system_named("", "empty"),
    # --- topology
    Case("topology-unknown", sys_(f'  topology = "cluster" {MARK}\n'), ["Invalid topology", '"cluster"', '"solo", "production"']),
    Case("topology-case", sys_(f'  topology = "Production" {MARK}\n'), ["Invalid topology", '"solo", "production"']),
    Case("topology-empty", sys_(f'  topology = "" {MARK}\n'), ["Invalid topology", '"solo", "production"']),
    # --- instance types per role (the one size table)
    Case("solo-i3-large", sys_(f'  topology = "solo"\n  instance_type = "i3.large" {MARK}\n'), ["Invalid instance type", '"i3.large"', SOLO_TYPES]),
    Case("solo-t2-medium", sys_(f'  topology = "solo"\n  instance_type = "t2.medium" {MARK}\n'), ["Invalid instance type", SOLO_TYPES]),
    Case("production-t2-small", sys_(f'  topology = "production"\n  instance_type = "t2.small" {MARK}\n'), ["Invalid instance type", '"t2.small"', PRODUCTION_TYPES]),
    Case("production-m5-large", sys_(f'  topology = "production"\n  instance_type = "m5.large" {MARK}\n'), ["Invalid instance type", PRODUCTION_TYPES]),
    Case("production-i3-2xlarge", sys_(f'  topology = "production"\n  instance_type = "i3.2xlarge" {MARK}\n'), ["Invalid instance type", PRODUCTION_TYPES]),
    Case("production-instance-type-empty", sys_(f'  topology = "production"\n  instance_type = "" {MARK}\n'), ["Invalid instance type", PRODUCTION_TYPES]),
    Case("query-group-t2-small", qg(f'  instance_type = "t2.small" {MARK}\n'), ["Invalid instance type", '"t2.small"', QUERY_GROUP_TYPES]),
    Case("query-group-i3-2xlarge", qg(f'  instance_type = "i3.2xlarge" {MARK}\n'), ["Invalid instance type", QUERY_GROUP_TYPES]),
    Case("query-group-uppercase-type", qg(f'  instance_type = "T2.MEDIUM" {MARK}\n'), ["Invalid instance type", QUERY_GROUP_TYPES]),
    # --- primary nodes
    Case("production-node-count-1", sys_(f'  topology = "production"\n  node_count = 1 {MARK}\n'), ["Invalid node count", "node_count 1", "2 to 10"]),
    Case("production-node-count-11", sys_(f'  topology = "production"\n  node_count = 11 {MARK}\n'), ["Invalid node count", "node_count 11", "2 to 10"]),
    Case("production-node-count-negative", sys_(f'  topology = "production"\n  node_count = -1 {MARK}\n'), ["Invalid node count", "2 to 10"]),
    Case("solo-node-count-2", sys_(f'  topology = "solo"\n  node_count = 2 {MARK}\n'), ["Invalid node count for a solo system", "Allowed: 1"]),
    Case("solo-node-count-0", sys_(f'  topology = "solo"\n  node_count = 0 {MARK}\n'), ["Invalid node count for a solo system", "Allowed: 1"]),
    Case("production-node-count-fraction", sys_(f'  topology = "production"\n  node_count = 2.5 {MARK}\n'),
         ["node_count", "2.5"]),
    Case("min-size-fraction", qg(f'  min_size = 1.5 {MARK}\n  max_size = 3\n'), ["min_size", "1.5"]),
    Case("max-size-fraction", qg(f'  max_size = 2.5 {MARK}\n'), ["max_size", "2.5"]),
    Case("desired-fraction", qg(f'  min_size = 1\n  max_size = 3\n  desired_capacity = 1.5 {MARK}\n'),
         ["desired_capacity", "1.5"]),
    # --- query group capacity
    Case("min-greater-than-max", qg(f'  min_size = 3 {MARK}\n  max_size = 2\n'), ["minimum size exceeds maximum size", "min_size 3", "max_size 2", "min_size at most max_size"]),
    Case("max-size-0", qg(f'  min_size = 0\n  max_size = 0 {MARK}\n'), ["Invalid query group maximum size", "1 to 100"]),
    Case("max-size-101", qg(f'  max_size = 101 {MARK}\n'), ["Invalid query group maximum size", "max_size 101", "1 to 100"]),
    Case("desired-above-max", qg(f'  min_size = 1\n  max_size = 3\n  desired_capacity = 5 {MARK}\n'), ["desired capacity out of range", "1 to 3"]),
    Case("desired-below-min", qg(f'  min_size = 2\n  max_size = 3\n  desired_capacity = 1 {MARK}\n'), ["desired capacity out of range", "2 to 3"]),
    Case("min-size-negative", qg(f'  min_size = -1 {MARK}\n'), ["Invalid query group minimum size", "min_size -1", "0 to max_size"]),
    Case("desired-negative", qg(f'  min_size = 0\n  max_size = 2\n  desired_capacity = -1 {MARK}\n'), ["desired capacity out of range", "0 to 2"]),
    # --- elastic autoscaling (target tracking): a percentage, and AWS owns desired_capacity
    Case("autoscaling-target-0", qg(f'  autoscaling {{\n    target_cpu_utilization = 0 {MARK}\n  }}\n'),
         ["Invalid autoscaling target", "more than 0 and at most 100"]),
    Case("autoscaling-target-150", qg(f'  autoscaling {{\n    target_cpu_utilization = 150 {MARK}\n  }}\n'),
         ["Invalid autoscaling target", "150", "at most 100"]),
    Case("autoscaling-with-desired", qg(f'  max_size = 4\n  desired_capacity = 2 {MARK}\n  autoscaling {{\n    target_cpu_utilization = 60\n  }}\n'),
         ["Conflicting capacity settings", "Remove desired_capacity"]),
    Case("autoscaling-without-target", qg(f'  autoscaling {{ {MARK}\n  }}\n'), ["Missing required argument", '"target_cpu_utilization"']),
    # --- existing network and client access
    # (on the argument that is set, as the AWS provider's RequiredWith: not on the block)
    Case("vpc-without-subnets", sys_(f'  topology = "production"\n  vpc_id = "vpc-0123456789abcdef0" {MARK}\n'),
         ["Incomplete existing network", "vpc_id is set without subnet_ids", "vpc_id and subnet_ids go together"]),
    Case("subnets-without-vpc",
         sys_(f'  topology = "production"\n  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"] {MARK}\n'),
         ["Incomplete existing network", "subnet_ids is set without vpc_id", "vpc_id and subnet_ids go together"]),
    Case("one-subnet", sys_(f'  topology = "production"\n  vpc_id = "vpc-0123456789abcdef0"\n  subnet_ids = ["subnet-0123456789abcdef0"] {MARK}\n'),
         ["Too few subnets", "at least 2 availability zones"]),
    Case("client-cidr-invalid", sys_(f'  topology = "production"\n  client_cidr_blocks = ["10.0.0.0/33"] {MARK}\n'),
         ["Invalid CIDR block", '"10.0.0.0/33"', '"10.0.0.0/16"']),
    Case("client-security-group-invalid", sys_(f'  topology = "production"\n  client_security_group_ids = ["default"] {MARK}\n'),
         ["Invalid security group id", '"default"', '"sg-']),
    Case("existing-network-not-found",
         sys_(f'  topology = "production"\n  vpc_id = "vpc-0123456789abcdef0" {MARK}\n  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]\n'),
         ["VPC vpc-0123456789abcdef0 does not exist"], static=False),
    # --- query group names ("primary" reserved) and references
    group_named("primary", "reserved", "primary"),
    group_named("datomic", "reserved"),
    group_named(NAME_25, "25 characters long"),
    group_named("Web", "uppercase"),
    group_named("9web", "does not start with a letter"),
    group_named("web-", "ends with a hyphen"),
    group_named("", "empty"),
    Case("query-group-system-invalid", qg("").replace('system = "negprod"', f'system = "Prod" {MARK}'), ["Invalid system name", "uppercase"]),
    Case("query-group-application-name-invalid", qg(f'  application_name = "Web" {MARK}\n'), ["Invalid application name", "uppercase"]),
    Case("query-group-application-name-empty", qg(f'  application_name = "" {MARK}\n'), ["Invalid application name", "empty"]),
    Case("system-application-name-invalid", sys_(f'  topology = "solo"\n  application_name = "Web_App" {MARK}\n'), ["Invalid application name"]),
    # --- parameters (environment variable names)
    Case("parameter-starts-with-digit", qg(f'  parameters = {{\n    "1DB" = "x" {MARK}\n  }}\n'), ["Invalid parameter name", '"1DB"', "letters, digits and underscores"]),
    Case("parameter-hyphen", qg(f'  parameters = {{\n    OK = "y"\n    "DB-NAME" = "x" {MARK}\n  }}\n'), ["Invalid parameter name", '"DB-NAME"']),
    Case("parameter-space", qg(f'  parameters = {{\n    "DB NAME" = "x" {MARK}\n  }}\n'), ["Invalid parameter name", '"DB NAME"']),
    Case("parameter-empty-key", qg(f'  parameters = {{\n    "" = "x" {MARK}\n  }}\n'), ["Invalid parameter name"]),
    # --- tags (aws: and datomic: reserved)
    Case("system-tag-aws", sys_(f'  topology = "solo"\n  tags = {{\n    Team = "data"\n    "aws:team" = "x" {MARK}\n  }}\n'), ["Invalid tag", '"aws:', "reserved"]),
    Case("system-tag-datomic", sys_(f'  topology = "solo"\n  tags = {{\n    "datomic:system" = "other" {MARK}\n  }}\n'), ["Invalid tag", '"datomic:', "reserved"]),
    Case("system-tag-empty-key", sys_(f'  topology = "solo"\n  tags = {{\n    "" = "x" {MARK}\n  }}\n'), ["Invalid tag", "empty"]),
    Case("query-group-tag-aws", qg(f'  tags = {{\n    "aws:cloudformation:stack" = "x" {MARK}\n  }}\n'), ["Invalid tag", '"aws:', "reserved"]),
    Case("query-group-tag-datomic", qg(f'  tags = {{\n    "datomic:group" = "x" {MARK}\n  }}\n'), ["Invalid tag", '"datomic:', "reserved"]),
    # --- timeouts
    Case("system-timeout-words", sys_(f'  topology = "solo"\n  timeouts {{\n    create = "ten minutes" {MARK}\n  }}\n'), ["Invalid timeout", '"ten minutes"', '"30s"']),
    Case("query-group-timeout-words", qg(f'  timeouts {{\n    update = "soon" {MARK}\n  }}\n'), ["Invalid timeout", '"soon"', '"10m"']),
    Case("application-timeout-words", app(f'  name = "negprod"\n  revision = "r1"\n  timeouts {{\n    delete = "1 hour" {MARK}\n  }}\n'), ["Invalid timeout", '"1 hour"', '"1h"']),
    # --- transaction functions: primary compute group only, fully qualified names
    Case("transaction-functions-on-query-group",
         app(f'  compute_group = "web"\n  name = "web"\n  revision = "r1"\n  transaction_functions = ["web.tx/f"] {MARK}\n'),
         ["Transaction functions require the primary compute group", '"web"']),
    tx_function("inc", "namespace/name", id_="unqualified"),
    tx_function("a/b/c", "namespace/name", id_="two-slashes"),
    tx_function("1ns/f", "not starting with a digit", id_="digit"),
    tx_function("ns/", "namespace/name", id_="no-name"),
    tx_function("/f", "namespace/name", id_="no-namespace"),
    tx_function("", "namespace/name", id_="empty"),
    tx_function("ok.ns/f", "Duplicate transaction function", "each function once", id_="duplicate"),
    # --- IAM policy (identity policy, no principal, never * on *, no IAM writes, no PassRole on *)
    policy("{not json", "Invalid IAM policy JSON", "not valid JSON", id_="malformed"),
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}',
           "every action on every resource", "specific actions", id_="star-on-star"),
    policy('{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": ["s3:GetObject", "*"], "Resource": ["*"]}}',
           "every action on every resource", id_="star-on-star-in-lists"),
    # guardrails: nothing an application's nodes could use to reach past their own policy
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}',
           "every action but the listed ones", '"NotAction"', 'only in "Deny"', id_="allow-not-action"),
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b"}]}',
           "every resource but the listed ones", '"NotResource"', 'only in "Deny"', id_="allow-not-resource"),
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}]}',
           "grants every action", "Statement[0]", '"arn:aws:s3:::b/*"', "specific actions", id_="star-on-arn"),
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "*:*"], "Resource": ["arn:aws:s3:::b"]}]}',
           "grants every action", '"*:*"', id_="star-colon-star-on-arn"),
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": "arn:aws:iam::123456789012:role/x"}]}',
           "IAM policy allows IAM changes", '"iam:PutRolePolicy"', '"iam:Get*"', "grant themselves", id_="iam-write"),
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, '
           '{"Effect": "Allow", "Action": ["iam:GetRole", "IAM:*Role*"], "Resource": "*"}]}',
           "IAM policy allows IAM changes", "Statement[1]", '"IAM:*Role*"', id_="iam-write-wildcard"),
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}',
           "passing any role", "explicit role ARNs", id_="pass-role-on-star"),
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:pass*", "Resource": ["arn:aws:iam::123456789012:role/*"]}]}',
           "passing any role", '"arn:aws:iam::123456789012:role/*"', id_="pass-role-wildcards"),
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam*", "Resource": "*"}]}',
           "Invalid IAM policy action", "without a service prefix", id_="action-without-service"),
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "*"}]}',
           '"Principal"', "no principal", id_="principal"),
    policy('{"Version": "2020-01-01", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}',
           "Invalid IAM policy version", '"2012-10-17"', id_="version"),
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"}]}',
           '"Permit"', '"Allow" or "Deny"', id_="effect"),
    policy('{"Version": "2012-10-17", "Statement": []}', "no statements", id_="no-statements"),
    policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}',
           'neither "Action" nor "NotAction"', id_="no-action"),
    policy('["s3:GetObject"]', "Invalid IAM policy document", '"Version" and "Statement"', id_="array"),
    # --- revisions
    Case("revision-empty", app(f'  name = "negprod"\n  revision = "" {MARK}\n'), ["Invalid application revision", "empty", "1-128"]),
    Case("revision-whitespace", app(f'  name = "negprod"\n  revision = "r 53" {MARK}\n'), ["Invalid application revision", "whitespace"]),
    Case("revision-too-long", app(f'  name = "negprod"\n  revision = "{"r" * 129}" {MARK}\n'), ["Invalid application revision", "129 characters", "1-128"]),
    # --- application names and targets
    Case("application-name-invalid", app(f'  name = "Web" {MARK}\n  revision = "r1"\n'), ["Invalid application name", "uppercase", "1-64 characters"]),
    Case("application-name-empty", app(f'  name = "" {MARK}\n  revision = "r1"\n'), ["Invalid application name", "empty"]),
    Case("application-system-empty", app('  name = "web"\n  revision = "r1"\n').replace('system = "negprod"', f'system = "" {MARK}'), ["Invalid system name", "empty"]),
    Case("application-compute-group-primary", app(f'  compute_group = "primary" {MARK}\n  name = "web"\n  revision = "r1"\n'), ["reserved", "primary"]),
    Case("application-compute-group-invalid", app(f'  compute_group = "Web" {MARK}\n  name = "web"\n  revision = "r1"\n'), ["uppercase"]),
    # --- Terraform's own refusals: wrong types, missing and unknown arguments
    Case("node-count-string", sys_(f'  topology = "production"\n  node_count = "two" {MARK}\n'), ["Incorrect attribute value type", "number is required"]),
    Case("max-size-string", qg(f'  max_size = "many" {MARK}\n'), ["Incorrect attribute value type", "number is required"]),
    Case("retain-storage-string", sys_(f'  topology = "solo"\n  retain_storage = "maybe" {MARK}\n'), ["Incorrect attribute value type", "bool is required"]),
    Case("parameters-list", qg(f'  parameters = ["DB"] {MARK}\n'), ["Incorrect attribute value type", "map of string required"]),
    Case("transaction-functions-string", app(f'  name = "negprod"\n  revision = "r1"\n  transaction_functions = "ns/f" {MARK}\n'), ["Incorrect attribute value type", "list of string required"]),
    Case("system-missing-topology", f'resource "datomic_system" "s" {{ {MARK}\n  name = "neg"\n}}\n', ["Missing required argument", '"topology"']),
    Case("system-missing-name", f'resource "datomic_system" "s" {{ {MARK}\n  topology = "solo"\n}}\n', ["Missing required argument", '"name"']),
    Case("query-group-missing-system", f'resource "datomic_query_group" "q" {{ {MARK}\n  name = "web"\n}}\n', ["Missing required argument", '"system"']),
    Case("application-missing-revision", f'resource "datomic_application" "a" {{ {MARK}\n  system = "negprod"\n  name = "negprod"\n}}\n', ["Missing required argument", '"revision"']),
    Case("system-unknown-argument", sys_(f'  topology = "solo"\n  size = 3 {MARK}\n'), ["Unsupported argument", '"size"']),
    # --- rules that need the existing objects (read from AWS at plan time)
    Case("query-group-on-solo-system", qg("", system="negsolo").replace('system = "negsolo"', f'system = "negsolo" {MARK}'),
         ["Query groups require a production system", '"negsolo"', '"production"'], static=False),
    Case("application-name-differs-from-query-group",
         app(f'  compute_group = "web"\n  name = "api" {MARK}\n  revision = "r1"\n'),
         ["does not match the compute group's application name", '"web"', '"api"'], static=False),
    Case("application-name-differs-from-primary",
         app(f'  name = "web" {MARK}\n  revision = "r1"\n'),
         ["does not match the compute group's application name", '"negprod"', '"web"'], static=False),
    Case("query-group-exists-already",
         qg("", name=None).replace("\n}", f'\n  name = "web" {MARK}\n  application_name = "web"\n}}', 1),
         ["web", "exists"], static=False),
    Case("system-exists-already",
         f'resource "datomic_system" "s" {{\n  name = "negprod" {MARK}\n  topology = "production"\n}}\n',
         ["negprod", "exists"], static=False),
    Case("production-to-solo",
         f'resource "datomic_system" "s" {{\n  name = "negprod"\n  topology = "solo" {MARK}\n}}\n',
         ["Cannot change a production system to solo", '"production"', "new solo datomic_system"],
         static=False, imports={"datomic_system.s": "negprod"}),
]

# The base the "existing object" cases plan against.
EXISTING = provider_hcl() + '''
resource "datomic_system" "prod" {
  name     = "negprod"
  topology = "production"
}

resource "datomic_query_group" "web" {
  system           = datomic_system.prod.name
  name             = "web"
  application_name = "web"
}

resource "datomic_system" "solo" {
  name     = "negsolo"
  topology = "solo"
}
'''


@pytest.fixture(scope="module")
def existing(emulator: Emulator, provider_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The emulator, reset once for this module, holding the systems of EXISTING. The
    cases write nothing (each asserts so), so they share it."""
    emulator.reset()
    tf = Terraform(tmp_path_factory.mktemp("negative-existing"), provider_binary, emulator.url)
    tf.write(EXISTING)
    tf.apply()
    yield emulator
    tf.destroy(check=False)
    emulator.reset()


def marked_line(text: str) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if MARK in line]
    assert len(lines) == 1, f"a case marks exactly one line with {MARK}: {lines}"
    return lines[0]


def find_error(diags: list[Diagnostic], case: Case) -> Diagnostic:
    errors = [d for d in diags if d.severity == "error"]
    assert errors, "no error diagnostic"
    for d in errors:
        if all(e.lower() in d.text.lower() for e in case.expect):
            return d
    raise AssertionError(f"no error names {case.expect}:\n" + "\n".join(map(str, errors)))


def assert_points_at(d: Diagnostic, line: int, main: str) -> None:
    assert d.filename == "main.tf", f"diagnostic not on main.tf: {d}"
    end = d.end_line or d.line
    assert d.line is not None and d.line <= line <= end, (
        f"diagnostic range lines {d.line}-{end}, offending attribute on line {line}:\n"
        f"{main.splitlines()[line - 1]}\n{d}")


@pytest.mark.aws
@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
    for c in CASES])
def test_refused_at_plan_writing_nothing(case: Case, existing: Emulator, make_tf: Callable[..., Terraform]) -> None:
    tf = make_tf("case", endpoint=existing.url)
    main = provider_hcl() + "\n" + case.config
    line = marked_line(main)
    tf.write(main)
    for addr, id_ in case.imports.items():
        res = tf.import_(addr, id_, check=False)
        assert res.ok, res.describe()

    existing.proxy.clear()
    res = tf.plan("-json")
    writes = existing.writes()
    assert res.rc == 1, f"plan did not fail:\n{res.describe()}"
    d = find_error(res.diagnostics(), case)
    assert_points_at(d, line, main)
    if d.summary not in TERRAFORM_SUMMARIES:  # our rule: the detail says what is allowed
        assert any(w in d.detail for w in ALLOWED_WORDS), f"the detail names no allowed value: {d}"
    assert writes == [], f"a refused plan wrote to AWS: {writes}"
    if not case.static:
        assert existing.calls(), "the existing-object check read nothing from AWS"

    if case.static:
        doc = tf.validate_json()
        assert not doc["valid"], doc
        assert_points_at(find_error(diagnostics_from_doc(doc), case), line, main)


def test_matrix_is_large_and_distinct() -> None:
    assert len(CASES) >= 50
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({c.config for c in CASES}) == len(CASES)


@pytest.mark.aws
def test_missing_existing_network_refused_before_any_write(existing: Emulator, make_tf: Callable[..., Terraform]) -> None:
    """The docs' promise for vpc_id/subnet_ids ("checked before anything is created"):
    an apply naming a VPC that does not exist fails at plan, on vpc_id, and writes
    nothing."""
    tf = make_tf("network", endpoint=existing.url)
    tf.write(provider_hcl() + "\n" + sys_('  topology = "production"\n  vpc_id = "vpc-0123456789abcdef0"\n'
                                         '  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]\n'))
    existing.proxy.clear()
    res = tf.apply("-json", check=False)
    writes = existing.writes()
    assert res.rc == 1, res.describe()
    errors = [d for d in res.diagnostics() if d.severity == "error"]
    assert any("VPC vpc-0123456789abcdef0 does not exist" in d.text for d in errors), errors
    assert writes == [], f"refused network: the apply wrote {writes}"
    assert tf.state_list() == []
