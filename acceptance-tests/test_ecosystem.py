"""Provider functions and data sources through the real terraform binary: what module
authors and other states use to reach a system they do not own. (The examples that use
them end to end, examples/stages-module with examples/modules/stage and
examples/separate-state, are applied in test_topologies.py.)"""

from __future__ import annotations

import pytest

from harness import Emulator, Terraform, provider_hcl
from topology_helpers import copy_example, replace_in_main

FUNCTIONS = """
output "production_sizes" {
  value = provider::datomic::instance_types("production")
}
output "query_group_sizes" {
  value = provider::datomic::instance_types("query_group")
}
output "solo_default" {
  value = provider::datomic::default_instance_type("solo")
}
output "good_name" {
  value = provider::datomic::valid_system_name("prod")
}
output "bad_name" {
  value = provider::datomic::valid_system_name("Datomic")
}
"""


def test_provider_functions(tf_offline: Terraform) -> None:
    """Functions need no AWS: they answer from the rules table."""
    tf_offline.write(provider_hcl() + FUNCTIONS)
    tf_offline.apply()
    assert tf_offline.outputs() == {
        "production_sizes": ["i3.large", "i3.xlarge"],
        "query_group_sizes": ["t2.medium", "m5.large", "i3.large", "i3.xlarge"],
        "solo_default": "t2.small",
        "good_name": True,
        "bad_name": False,
    }


def test_provider_function_refuses_unknown_role(tf_offline: Terraform) -> None:
    tf_offline.write(provider_hcl() + 'output "x" {\n  value = provider::datomic::instance_types("primary")\n}\n')
    res = tf_offline.plan()
    assert not res.ok
    text = res.stdout + res.stderr
    assert "unknown role" in text and '"query_group"' in text, text


@pytest.mark.aws
def test_data_sources_read_another_states_system(make_tf, aws: Emulator) -> None:
    """State A owns a production system and a query group; state B reads both with the
    data sources only, as a separate team's configuration would."""
    owner: Terraform = make_tf("owner", endpoint=aws.url)
    owner.write(provider_hcl() + """
resource "datomic_system" "prod" {
  name     = "eco"
  topology = "production"
  tags     = { Team = "data" }
}
resource "datomic_query_group" "stage" {
  system           = datomic_system.prod.name
  name             = "stage"
  application_name = "web"
  max_size         = 2
  parameters       = { DATOMIC_DB_NAME = "web-stage" }
}
""")
    owner.apply()
    own = {r["address"]: r["values"] for r in owner.show_json()["values"]["root_module"]["resources"]}

    reader: Terraform = make_tf("reader", endpoint=aws.url)
    reader.write(provider_hcl() + """
data "datomic_system" "prod" {
  name = "eco"
}
data "datomic_query_group" "stage" {
  system = data.datomic_system.prod.name
  name   = "stage"
}
output "system" {
  value = data.datomic_system.prod
}
output "stage" {
  value = data.datomic_query_group.stage
}
""")
    aws.proxy.clear()
    reader.apply()
    assert aws.writes() == [], f"reading data sources wrote to AWS: {aws.writes()}"
    out = reader.outputs()
    system, stage = out["system"], out["stage"]
    sys_own = own["datomic_system.prod"]
    for attr in ("topology", "instance_type", "node_count", "application_name", "vpc_id",
                 "subnet_ids", "security_group_id", "bucket_name", "table_name", "autoscaling_group_name",
                 "arn", "node_role_name", "endpoint", "load_balancer_dns_name", "client_config"):
        assert system[attr] == sys_own[attr], (attr, system[attr], sys_own[attr])
    assert system["tags"]["Team"] == "data"
    assert system["endpoint"] and system["client_config"]["endpoint"] == system["endpoint"], system
    qg_own = own["datomic_query_group.stage"]
    for attr in ("application_name", "instance_type", "min_size", "max_size", "desired_capacity",
                 "autoscaling_group_name", "arn", "node_role_name", "endpoint", "load_balancer_dns_name"):
        assert stage[attr] == qg_own[attr], (attr, stage[attr], qg_own[attr])
    assert stage["parameters"] == {"DATOMIC_DB_NAME": "web-stage"}

    # A name that does not exist is an error on `name`, not an empty result.
    reader.write(provider_hcl() + 'data "datomic_system" "nope" {\n  name = "nope"\n}\n')
    res = reader.plan()
    assert not res.ok
    assert "No matching Datomic system found" in res.stdout + res.stderr, res.describe()

    owner.destroy()


@pytest.mark.aws
def test_module_validates_inputs_with_provider_functions(make_tf, aws: Emulator) -> None:
    """examples/modules/stage checks its inputs with provider::datomic::valid_system_name
    and instance_types("query_group"): wrong values given to examples/stages-module's
    module calls are refused at plan on the call's line, with the module's message,
    before any AWS call."""
    tf: Terraform = make_tf("stages-module", endpoint=aws.url)
    copy_example("stages-module", tf.workdir)
    tf.init()  # `terraform get`
    replace_in_main(tf, 'name     = "test"', 'name     = "primary"')
    replace_in_main(tf, 'instance_type = "m5.large"', 'instance_type = "i3.4xlarge"')
    replace_in_main(tf, 'system   = datomic_system.main.name\n  name     = "dev"', 'system   = "Datomic"\n  name     = "dev"')
    main = (tf.workdir / "main.tf").read_text().splitlines()
    line_of = {needle: next(i for i, ln in enumerate(main, 1) if needle in ln)
               for needle in ('"primary"', '"i3.4xlarge"', '"Datomic"')}
    aws.proxy.clear()
    res = tf.plan("-json")
    assert not res.ok, res.describe()
    errors = [d for d in res.diagnostics() if d.severity == "error"]
    assert all(d.summary == "Invalid value for variable" and d.filename == "main.tf" for d in errors), errors
    by_line = {d.line: d.detail for d in errors}
    assert sorted(by_line) == sorted(line_of.values()), errors
    assert "not be \"datomic\" or \"primary\"" in by_line[line_of['"primary"']]
    assert "t2.medium, m5.large, i3.large, i3.xlarge" in by_line[line_of['"i3.4xlarge"']]
    assert "The system name must be" in by_line[line_of['"Datomic"']]
    assert aws.calls() == [], f"a refused configuration reached AWS: {aws.calls()}"
