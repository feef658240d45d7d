# Objective: elastic autoscaling (query groups for scaling).
#
# A production system whose primary compute group runs the "web" application,
# plus a query group running the SAME application, scaled by AWS between
# min_size and max_size on its average CPU (a target-tracking policy).
# desired_capacity is left unset: it starts at min_size, and when AWS scales
# the group later that is not drift (the next plan shows no change).
#
#   terraform import datomic_system.main elastic
#   terraform import datomic_query_group.web elastic/web

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
  name             = "elastic"
  topology         = "production"
  application_name = "web"

  # A throwaway system: destroy deletes its storage too.
  retain_storage = false
}

resource "datomic_query_group" "web" {
  system           = datomic_system.main.name
  name             = "web"
  application_name = datomic_system.main.application_name
  instance_type    = "m5.large"
  min_size         = 2
  max_size         = 6
  # desired_capacity unset: min_size at first, then whatever AWS scales it to
  # (never drift).

  # AWS adds nodes when the group's average CPU goes above 60 % and removes
  # them when it falls below, always between min_size and max_size.
  autoscaling {
    target_cpu_utilization = 60
  }

  parameters = {
    DATOMIC_DB_NAME = "web"
  }
}

output "web_group" {
  # desired_capacity is left out on purpose: it moves whenever AWS scales the
  # group, and every plan would then show the output change.
  description = "The autoscaled query group: its Auto Scaling group and bounds."
  value = {
    autoscaling_group_name = datomic_query_group.web.autoscaling_group_name
    min_size               = datomic_query_group.web.min_size
    max_size               = datomic_query_group.web.max_size
  }
}
