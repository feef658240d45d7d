resource "datomic_system" "prod" {
  name             = "prod"
  topology         = "production"
  application_name = "tx"
}

resource "datomic_query_group" "stage" {
  system           = datomic_system.prod.name
  name             = "stage"
  application_name = "web"

  parameters = {
    DATOMIC_DB_NAME = "web-stage"
  }
}

# The shared "tx" application carries transaction functions, so it is
# deployed to the system's primary compute group (compute_group unset).
# Push the revision first, from the application's project, with Datomic's ion
# tooling: `clojure -A:ion-dev '{:op :push :uname "3f2c9a1"}'` puts it in the
# region's code bucket (datomic/apps/tx/3f2c9a1.zip); the apply then deploys it
# with CodeDeploy, in place, one node at a time.
resource "datomic_application" "tx" {
  system   = datomic_system.prod.name
  name     = datomic_system.prod.application_name
  revision = "3f2c9a1"

  transaction_functions = [
    "tx.accounts/transfer",
    "tx.counters/inc",
  ]
}

# The stage database's password: an ephemeral variable (Terraform 1.11 or
# later), set with TF_VAR_web_stage_db_password or from a secrets manager's
# ephemeral resource. It is never stored in the plan or the state.
variable "web_stage_db_password" {
  type      = string
  ephemeral = true
  sensitive = true
}

# The "web" application's stage revision, on the stage query group, with
# its own permissions on the group's node role, and its secrets in SSM
# Parameter Store (/datomic-shared/prod/stage/web/DB_PASSWORD), which the
# application reads with ion/get-params. Change the version to write new
# values.
resource "datomic_application" "web_stage" {
  system        = datomic_system.prod.name
  compute_group = datomic_query_group.stage.name
  name          = datomic_query_group.stage.application_name
  revision      = "r53"

  iam_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = "arn:aws:sqs:us-east-1:123456789012:web-stage-events"
    }]
  })

  secret_parameters_wo = {
    DB_PASSWORD = var.web_stage_db_password
  }
  secret_parameters_wo_version = 1
}

# Without Datomic's ion tooling: the provider uploads a local zip (a
# CodeDeploy bundle with an appspec.yml, as ion push makes) to the revision's
# key, datomic/apps/reports/r7.zip, then deploys it. A revision is immutable:
# a new zip needs a new revision (here, the build's version).
resource "datomic_query_group" "reports" {
  system           = datomic_system.prod.name
  name             = "reports"
  application_name = "reports"
}

resource "datomic_application" "reports" {
  system        = datomic_system.prod.name
  compute_group = datomic_query_group.reports.name
  name          = datomic_query_group.reports.application_name
  revision      = "r7"
  package       = "${path.module}/build/reports-r7.zip"
}
