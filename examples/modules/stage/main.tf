# One development stage of an application on a production Datomic system: a
# query group running the application (its own nodes, working against its own
# database) and the application revision deployed to it. Use it once per
# stage, with the same application_name on every stage (see
# ../../stages-module).

locals {
  database = coalesce(var.database, "${var.application_name}-${var.name}")
}

resource "datomic_query_group" "this" {
  system           = var.system
  name             = var.name
  application_name = var.application_name
  instance_type    = coalesce(var.instance_type, provider::datomic::default_instance_type("query_group"))
  min_size         = var.node_count
  max_size         = var.node_count

  parameters = merge({ DATOMIC_DB_NAME = local.database }, var.parameters)

  tags = merge({ Stage = var.name }, var.tags)
}

resource "datomic_application" "this" {
  system        = datomic_query_group.this.system
  compute_group = datomic_query_group.this.name
  name          = datomic_query_group.this.application_name
  revision      = var.revision
  iam_policy    = var.iam_policy
}
