# Objective: operating a production system (client access, elastic scaling,
# an existing network, safe destroys).
#
# A production system placed in a VPC the team already has (the provider
# checks the subnets before creating anything, and never creates or deletes
# that network), reachable by the team's clients on port 8182 through each
# compute group's internal Network Load Balancer, with a query group that
# AWS scales on CPU between min_size and max_size.
#
#   terraform apply -var 'vpc_id=vpc-0123456789abcdef0' \
#     -var 'subnet_ids=["subnet-0aaaaaaaaaaaaaaaa","subnet-0bbbbbbbbbbbbbbbb"]'
#
# Destroying it keeps the S3 bucket and DynamoDB table (retain_storage
# defaults to true; `terraform plan -destroy` says so in a warning), and a new
# system named "ops" adopts them. The VPC and subnets are the team's: never
# deleted, whatever retain_storage says.
#
#   terraform import datomic_system.main ops
#   terraform import datomic_query_group.web ops/web

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

variable "vpc_id" {
  description = "The team's existing VPC."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of that VPC in at least 2 availability zones (the nodes and load balancers go there)."
  type        = list(string)
}

variable "client_cidr_blocks" {
  description = "Networks whose clients may connect to the system on port 8182 (e.g. the application servers' subnets)."
  type        = set(string)
  default     = ["10.60.0.0/16"]
}

variable "client_security_group_ids" {
  description = "Security groups whose members may connect to the system on port 8182 (e.g. the application servers')."
  type        = set(string)
  default     = []
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
  name             = "ops"
  topology         = "production"
  application_name = "web"

  # An existing network: both or neither. Changing them replaces the system.
  vpc_id     = var.vpc_id
  subnet_ids = var.subnet_ids

  # Who may connect (port 8182). Nobody by default; changes are made in place
  # on each load balancer's own security group.
  client_cidr_blocks        = var.client_cidr_blocks
  client_security_group_ids = var.client_security_group_ids

  # The default, written out: destroy keeps the bucket and the table.
  retain_storage = true
}

# The production "web" application, scaled by AWS: a target-tracking policy
# keeps the group's average CPU near 60%. desired_capacity is left unset (it
# is refused together with autoscaling): AWS owns it, and its changes are not
# drift.
resource "datomic_query_group" "web" {
  system           = datomic_system.main.name
  name             = "web"
  application_name = datomic_system.main.application_name
  instance_type    = "m5.large"
  min_size         = 2
  max_size         = 6

  autoscaling {
    target_cpu_utilization = 60
  }

  parameters = {
    DATOMIC_DB_NAME = "web"
  }
}

# What a Datomic client takes as is to connect through the primary compute
# group: { server-type, region, system, endpoint }, the endpoint being
# http://entry.<system>.<region>.datomic.net:8182/ in the system's private zone.
output "client_config" {
  value = datomic_system.main.client_config
}

# Clients of the "web" query group take the same map with its own endpoint,
# http://web.<system>.<region>.datomic.net:8182/.
output "web_client_config" {
  value = merge(datomic_system.main.client_config, { endpoint = datomic_query_group.web.endpoint })
}
