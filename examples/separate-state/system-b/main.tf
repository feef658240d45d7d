# Objective: production isolation (separate production topologies), each
# system in its own Terraform state in an S3 backend.
#
# Production system "isolated-b", in a state of its own (its own key in S3,
# see ../README.md). It runs the SAME application name as ../system-a
# ("web"), with the same primary compute group size, which it reads from
# system "isolated-a" through the datomic_system data source only: no access
# to the other state (no terraform_remote_state), nothing of "isolated-a" is
# managed here, and a change here never plans anything there. Apply
# ../system-a first; destroy this one first.
#
#   terraform init -backend-config=../state.s3.tfbackend -backend-config="key=datomic/isolated-b.tfstate"
#   terraform apply
#   terraform import datomic_system.this isolated-b

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

variable "reference_system" {
  description = "The production system, owned by another state, whose application name and primary group size this system follows."
  type        = string
  default     = "isolated-a"
}

variable "web_revision" {
  description = "Revision of the \"web\" application on this system's primary compute group."
  type        = string
  default     = "r52"
}

provider "datomic" {
  region = "us-east-1"

  # Against real AWS, this system under its own IAM role (or account); reading
  # the other system needs only Describe/List/Get permissions on its objects:
  # assume_role {
  #   role_arn = "arn:aws:iam::222222222222:role/datomic-isolated-b"
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

# The other state's system, read from AWS (no write, no access to its state).
data "datomic_system" "reference" {
  name = var.reference_system
}

resource "datomic_system" "this" {
  name             = "isolated-b"
  topology         = "production"
  application_name = data.datomic_system.reference.application_name
  instance_type    = data.datomic_system.reference.instance_type
  node_count       = data.datomic_system.reference.node_count

  tags = {
    Follows = data.datomic_system.reference.name
  }

  lifecycle {
    precondition {
      condition     = data.datomic_system.reference.topology == "production"
      error_message = "System ${var.reference_system} is ${data.datomic_system.reference.topology}: this system follows a production system only."
    }
  }
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

output "reference_system" {
  description = "The system this one follows, as read through the data source (its network, e.g. for VPC peering, and the endpoint its clients use)."
  value = {
    name             = data.datomic_system.reference.name
    application_name = data.datomic_system.reference.application_name
    vpc_id           = data.datomic_system.reference.vpc_id
    subnet_ids       = data.datomic_system.reference.subnet_ids
    endpoint         = data.datomic_system.reference.endpoint
  }
}
