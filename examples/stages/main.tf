# Objective: separate development stages (query groups for stages).
#
# One production system; each stage of the "web" application (dev, staging,
# prod) is a query group with the SAME application_name "web". Each stage runs
# its own revision (its own datomic_application) and works against its own
# database, given to its nodes through the group's parameters.
#
#   terraform import datomic_system.main stages
#   terraform import 'datomic_query_group.stage["dev"]' stages/dev
#   terraform import 'datomic_application.web["dev"]' stages/dev/web

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

locals {
  # Stage -> the revision of "web" it runs. Promote a revision by copying it
  # to the next stage; each change deploys in place, one node at a time.
  stages = {
    dev     = "r57"
    staging = "r55"
    prod    = "r53"
  }
}

resource "datomic_system" "main" {
  name     = "stages"
  topology = "production"
}

resource "datomic_query_group" "stage" {
  for_each = local.stages

  system           = datomic_system.main.name
  name             = each.key
  application_name = "web"
  instance_type    = "t2.medium"

  parameters = {
    DATOMIC_DB_NAME = "web-${each.key}"
  }

  tags = {
    Stage = each.key
  }
}

resource "datomic_application" "web" {
  for_each = local.stages

  system        = datomic_system.main.name
  compute_group = datomic_query_group.stage[each.key].name
  name          = datomic_query_group.stage[each.key].application_name
  revision      = each.value

  # Each stage may only reach its own queue.
  iam_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["sqs:SendMessage", "sqs:ReceiveMessage"]
      Resource = "arn:aws:sqs:us-east-1:123456789012:web-${each.key}-events"
    }]
  })
}

output "stages" {
  description = "Each stage: its Auto Scaling group, database and deployed revision."
  value = {
    for stage, group in datomic_query_group.stage : stage => {
      autoscaling_group_name = group.autoscaling_group_name
      database               = group.parameters["DATOMIC_DB_NAME"]
      revision               = datomic_application.web[stage].revision
    }
  }
}
