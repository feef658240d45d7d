# Objective: production isolation (separate production topologies).
#
# Production system "prod-b", one of two independent production systems
# (../system-a, ../system-b). Each is its own root configuration with its own
# state (here: terraform.tfstate in this directory; against real AWS, its own
# backend and credentials, see the comments below), so a change or a mistake in
# one never plans anything in the other. Both run the SAME application names
# ("web" on the primary compute group, "reports" on a query group), from
# ../modules/production-system.
#
#   cd system-b && terraform init && terraform apply
#   terraform import module.production.datomic_system.this prod-b

terraform {
  required_version = ">= 1.5"

  # Against real AWS, give each system its own state, e.g.:
  # backend "s3" {
  #   bucket       = "example-terraform-state-b"
  #   key          = "datomic/prod-b.tfstate"
  #   region       = "us-east-1"
  #   use_lockfile = true
  # }

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

  # Against real AWS, each system under its own IAM role (or account):
  # assume_role {
  #   role_arn = "arn:aws:iam::222222222222:role/datomic-prod-b"
  # }

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

module "production" {
  source = "../modules/production-system"

  name             = "prod-b"
  web_revision     = "r52"
  reports_revision = "r7"
}

output "system" {
  description = "This production system and its Auto Scaling groups."
  value       = module.production.system
}
