# Objective: transaction functions (primary compute group).
#
# The shared "tx" application carries the transaction functions. Transaction
# functions run only on a system's primary compute group, so "tx" is the
# primary application (application_name = "tx") of EVERY system, here two:
# "orders" (production) and "billing" (solo), and one datomic_application "tx"
# per system deploys the same revision to each primary group (compute_group
# unset). Deploying "tx" to a query group is refused at plan time.
#
#   terraform apply -var tx_revision=4b1d2e0   # rolls the new revision out to both
#   terraform import 'datomic_system.this["orders"]' orders
#   terraform import 'datomic_application.tx["orders"]' orders/primary/tx

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

variable "tx_revision" {
  description = "Revision of the shared \"tx\" application, deployed to every system."
  type        = string
  default     = "3f2c9a1"
}

locals {
  # System name -> topology. Every system's primary compute group runs "tx".
  systems = {
    orders  = "production"
    billing = "solo"
  }
}

resource "datomic_system" "this" {
  for_each = local.systems

  name             = each.key
  topology         = each.value
  application_name = "tx"
}

resource "datomic_application" "tx" {
  for_each = datomic_system.this

  system   = each.value.name
  name     = each.value.application_name
  revision = var.tx_revision

  transaction_functions = [
    "tx.accounts/transfer",
    "tx.counters/inc",
  ]
}

output "tx_deployments" {
  description = "Per system: the primary Auto Scaling group and the tx revision it runs."
  value = {
    for name, system in datomic_system.this : name => {
      autoscaling_group_name  = system.autoscaling_group_name
      revision                = datomic_application.tx[name].revision
      launch_template_version = datomic_application.tx[name].launch_template_version
    }
  }
}
