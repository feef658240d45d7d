# Objective: getting started (topology "solo").
#
# One datomic_system with topology = "solo": its storage (VPC over two
# availability zones, S3 bucket, DynamoDB table) and a primary compute group
# of exactly one t2.small node. When you go live, change topology to
# "production" in place (see ../production): no data is lost.
#
#   terraform init && terraform apply
#   terraform import datomic_system.main starter   # id: the system's name

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
  name     = "starter"
  topology = "solo"

  # retain_storage defaults to true: `terraform destroy` keeps the storage
  # (VPC, bucket, table) and a new system named "starter" adopts it.

  tags = {
    Stage = "development"
  }
}

output "system" {
  description = "The solo system and where its data lives."
  value = {
    name                   = datomic_system.main.name
    topology               = datomic_system.main.topology
    instance_type          = datomic_system.main.instance_type
    autoscaling_group_name = datomic_system.main.autoscaling_group_name
    vpc_id                 = datomic_system.main.vpc_id
    bucket_name            = datomic_system.main.bucket_name
    table_name             = datomic_system.main.table_name
  }
}
