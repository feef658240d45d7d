# Objective: production isolation (separate production topologies), each
# system in its own Terraform state in an S3 backend.
#
# Production system "isolated-a", owned by this root configuration alone: its
# state lives in S3 under its own key (see ../README.md for `terraform init`).
# ../system-b is a second production system in a second state that runs the
# SAME application name "web" and reads this system only through the
# datomic_system data source: neither state reads or writes the other's.
#
#   terraform init -backend-config=../state.s3.tfbackend -backend-config="key=datomic/isolated-a.tfstate"
#   terraform apply
#   terraform import datomic_system.this isolated-a

terraform {
  required_version = ">= 1.5"

  # Partial configuration: bucket, key, region (and, for a local emulator, its
  # endpoint) are given to `terraform init -backend-config=...`, so this file
  # stays the same in every account.
  backend "s3" {}

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

variable "web_revision" {
  description = "Revision of the \"web\" application on this system's primary compute group."
  type        = string
  default     = "r53"
}

provider "datomic" {
  region = "us-east-1"

  # Against real AWS, this system under its own IAM role (or account):
  # assume_role {
  #   role_arn = "arn:aws:iam::111111111111:role/datomic-isolated-a"
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

resource "datomic_system" "this" {
  name             = "isolated-a"
  topology         = "production"
  application_name = "web"
}

resource "datomic_application" "web" {
  system   = datomic_system.this.name
  name     = datomic_system.this.application_name
  revision = var.web_revision
}

output "system" {
  description = "This system: its name, application and primary compute group."
  value = {
    name                   = datomic_system.this.name
    application_name       = datomic_application.web.name
    revision               = datomic_application.web.revision
    autoscaling_group_name = datomic_system.this.autoscaling_group_name
  }
}
