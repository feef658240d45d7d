# Objective: separate development stages (query groups for stages), from a
# reusable module.
#
# The same topology as ../stages, written with the module ../modules/stage:
# one production system, and three development stages of the "web"
# application (dev, test, staging), each a call of the module. Every stage is
# a query group with the SAME application_name "web", its own revision (its
# own datomic_application) and its own database; the module checks its inputs
# with the provider's functions before anything is planned.
#
#   terraform import datomic_system.main web-stages
#   terraform import module.dev.datomic_query_group.this web-stages/dev
#   terraform import module.dev.datomic_application.this web-stages/dev/web

terraform {
  # Provider-defined functions (used by ../modules/stage) need 1.8.
  required_version = ">= 1.8"

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
  name     = "web-stages"
  topology = "production"
}

# Each stage works against "web-<stage>" (the module's default database) on
# the default query group instance type, one node.
module "dev" {
  source = "../modules/stage"

  system   = datomic_system.main.name
  name     = "dev"
  revision = "r57"
}

module "test" {
  source = "../modules/stage"

  system   = datomic_system.main.name
  name     = "test"
  revision = "r56"

  parameters = {
    LOG_LEVEL = "debug"
  }
}

# Staging mirrors production: its own instance type, two nodes, and
# permission to reach its own queue only.
module "staging" {
  source = "../modules/stage"

  system        = datomic_system.main.name
  name          = "staging"
  revision      = "r55"
  instance_type = "m5.large"
  node_count    = 2

  iam_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["sqs:SendMessage", "sqs:ReceiveMessage"]
      Resource = "arn:aws:sqs:us-east-1:123456789012:web-staging-events"
    }]
  })
}

output "stages" {
  description = "Each stage: its endpoint, Auto Scaling group, database and deployed revision."
  value = {
    for name, stage in { dev = module.dev, test = module.test, staging = module.staging } : name => {
      endpoint               = stage.endpoint
      autoscaling_group_name = stage.autoscaling_group_name
      database               = stage.database
      revision               = stage.revision
    }
  }
}
