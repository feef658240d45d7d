# Objective: moving to production (topology "production").
#
# A production system: two i3.large primary nodes spread over availability
# zones (grow them with node_count, up to 10; the primary group is never
# autoscaled), ready for query groups.
#
# Upgrading from solo, in place: take the solo configuration (../solo) and
# change
#     topology = "solo"
# to
#     topology = "production"
# `terraform plan` then shows "datomic_system.main will be updated in-place"
# (instance_type t2.small -> i3.large, node_count 1 -> 2), never a replacement:
# the storage, and with it the data, stays. The way back (production -> solo)
# is refused at plan time; create a new solo system for that.
#
#   terraform import datomic_system.main acme   # id: the system's name

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

resource "datomic_system" "main" {
  name     = "acme"
  topology = "production"

  # Defaults, written out: instance_type "i3.large" (or "i3.xlarge"),
  # node_count 2. Left unset, they follow the topology.
  instance_type = "i3.large"
  node_count    = 2

  tags = {
    Stage = "production"
  }
}

output "system" {
  description = "The production system's primary compute group and storage."
  value = {
    name                   = datomic_system.main.name
    topology               = datomic_system.main.topology
    instance_type          = datomic_system.main.instance_type
    node_count             = datomic_system.main.node_count
    autoscaling_group_name = datomic_system.main.autoscaling_group_name
    subnet_ids             = datomic_system.main.subnet_ids
    bucket_name            = datomic_system.main.bucket_name
    table_name             = datomic_system.main.table_name
  }
}
