# The demo (./scripts/demo applies this against the local AWS emulator).
#
# Objectives shown together: moving to production, separate development
# stages, elastic autoscaling and transaction functions. One production
# system "demo" whose primary compute group runs the "tx" application with
# transaction functions; a "stage" query group running a stage of the "web"
# application against its own database; and an autoscaled "web" query group
# running production "web".

terraform {
  required_version = ">= 1.5"

  required_providers {
    datomic = {
      source = "datomic-community/datomic"
    }
  }
}

# URL of a local AWS emulator (scripts/demo and the acceptance tests set it as
# TF_VAR_aws_endpoint). Left null, the provider talks to AWS itself.
variable "aws_endpoint" {
  type    = string
  default = null
}

provider "datomic" {
  region = "us-east-1"

  # For the local AWS emulator only: against real AWS, drop these lines and the
  # endpoints block (credentials then come from the usual AWS environment
  # variables, shared files or an instance role).
  skip_credentials_validation = true
  skip_requesting_account_id  = true

  endpoints {
    ec2         = var.aws_endpoint
    iam         = var.aws_endpoint
    autoscaling = var.aws_endpoint
    s3          = var.aws_endpoint
    dynamodb    = var.aws_endpoint
    sts         = var.aws_endpoint
    elbv2       = var.aws_endpoint
    route53     = var.aws_endpoint
    codedeploy  = var.aws_endpoint
    kms         = var.aws_endpoint
    logs        = var.aws_endpoint
    efs         = var.aws_endpoint
  }
}

resource "datomic_system" "demo" {
  name             = "demo"
  topology         = "production"
  application_name = "tx"

  # The demo cleans up after itself: destroy deletes the storage too.
  retain_storage = false

  tags = {
    Project = "datomic-demo"
  }
}

# Transaction functions: only on the primary compute group.
resource "datomic_application" "tx" {
  system   = datomic_system.demo.name
  name     = datomic_system.demo.application_name
  revision = "3f2c9a1"

  transaction_functions = [
    "tx.accounts/transfer",
    "tx.counters/inc",
  ]
}

# A development stage of "web", on its own database.
resource "datomic_query_group" "stage" {
  system           = datomic_system.demo.name
  name             = "stage"
  application_name = "web"

  parameters = {
    DATOMIC_DB_NAME = "web-stage"
  }
}

resource "datomic_application" "web_stage" {
  system        = datomic_system.demo.name
  compute_group = datomic_query_group.stage.name
  name          = datomic_query_group.stage.application_name
  revision      = "r54"
}

# Production "web", autoscaled by AWS between 2 and 4 nodes.
resource "datomic_query_group" "web" {
  system           = datomic_system.demo.name
  name             = "web"
  application_name = "web"
  instance_type    = "m5.large"
  min_size         = 2
  max_size         = 4

  # AWS scales it on the nodes' average CPU.
  autoscaling {
    target_cpu_utilization = 60
  }

  parameters = {
    DATOMIC_DB_NAME = "web"
  }
}

resource "datomic_application" "web" {
  system        = datomic_system.demo.name
  compute_group = datomic_query_group.web.name
  name          = datomic_query_group.web.application_name
  revision      = "r53"
}

output "system" {
  description = "The demo system, its storage and what a Datomic client needs to connect."
  value = {
    client_config = datomic_system.demo.client_config
    name          = datomic_system.demo.name
    topology      = datomic_system.demo.topology
    vpc_id        = datomic_system.demo.vpc_id
    subnet_ids    = datomic_system.demo.subnet_ids
    bucket_name   = datomic_system.demo.bucket_name
    table_name    = datomic_system.demo.table_name
  }
}

output "compute_groups" {
  description = "Each compute group: Auto Scaling group, client endpoint URL (a name in the system's private DNS zone), instance type, nodes, application and revision."
  value = {
    primary = {
      autoscaling_group_name = datomic_system.demo.autoscaling_group_name
      endpoint               = datomic_system.demo.endpoint
      instance_type          = datomic_system.demo.instance_type
      nodes                  = datomic_system.demo.node_count
      application            = datomic_application.tx.name
      revision               = datomic_application.tx.revision
    }
    stage = {
      autoscaling_group_name = datomic_query_group.stage.autoscaling_group_name
      endpoint               = datomic_query_group.stage.endpoint
      instance_type          = datomic_query_group.stage.instance_type
      nodes                  = "${datomic_query_group.stage.min_size}-${datomic_query_group.stage.max_size}"
      application            = datomic_application.web_stage.name
      revision               = datomic_application.web_stage.revision
    }
    web = {
      autoscaling_group_name = datomic_query_group.web.autoscaling_group_name
      endpoint               = datomic_query_group.web.endpoint
      instance_type          = datomic_query_group.web.instance_type
      nodes                  = "${datomic_query_group.web.min_size}-${datomic_query_group.web.max_size}"
      application            = datomic_application.web.name
      revision               = datomic_application.web.revision
    }
  }
}
