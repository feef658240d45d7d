# Objective: multiple applications.
#
# Next to the system's own application (on its primary compute group), a query
# group with a NEW application name: "analysis", on one i3.xlarge node, with
# its own revision and its own IAM permissions on the group's node role
# (multi-analysis-node).
#
#   terraform import datomic_system.main multi
#   terraform import datomic_query_group.analysis multi/analysis
#   terraform import datomic_application.analysis multi/analysis/analysis

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
  name           = "multi"
  topology       = "production"
  retain_storage = false
}

resource "datomic_query_group" "analysis" {
  system           = datomic_system.main.name
  name             = "analysis"
  application_name = "analysis"
  instance_type    = "i3.xlarge"
  min_size         = 1
  max_size         = 1

  parameters = {
    DATOMIC_DB_NAME = "events"
  }
}

resource "datomic_application" "analysis" {
  system        = datomic_system.main.name
  compute_group = datomic_query_group.analysis.name
  name          = datomic_query_group.analysis.application_name
  revision      = "a1b2c3d"

  # Reads the data lake, nothing else.
  iam_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:ListBucket"]
      Resource = ["arn:aws:s3:::example-data-lake", "arn:aws:s3:::example-data-lake/*"]
    }]
  })
}

output "applications" {
  description = "Application per compute group."
  value = {
    (datomic_system.main.autoscaling_group_name)          = datomic_system.main.application_name
    (datomic_query_group.analysis.autoscaling_group_name) = datomic_application.analysis.name
  }
}
