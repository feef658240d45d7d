# Look up a stage managed in another Terraform state, e.g. to deploy a
# matching application revision to it.
data "datomic_query_group" "stage" {
  system = "prod"
  name   = "stage"
}

resource "datomic_application" "web_stage" {
  system        = data.datomic_query_group.stage.system
  compute_group = data.datomic_query_group.stage.name
  name          = data.datomic_query_group.stage.application_name
  revision      = "r54"
}

output "stage_database" {
  value = data.datomic_query_group.stage.parameters["DATOMIC_DB_NAME"]
}
