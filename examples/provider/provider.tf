terraform {
  required_version = ">= 1.5"

  required_providers {
    datomic = {
      source = "datomic-community/datomic"
    }
  }
}

# Credentials come from the usual AWS environment variables, shared files or
# an instance role, as with the AWS provider.
provider "datomic" {
  region = "us-east-1"

  default_tags {
    tags = {
      Environment = "production"
      ManagedBy   = "terraform"
    }
  }

  # For a local AWS emulator, point every service at it:
  # access_key                  = "testing"
  # secret_key                  = "testing"
  # skip_credentials_validation = true
  # skip_requesting_account_id  = true
  #
  # endpoints {
  #   autoscaling = "http://127.0.0.1:4566"
  #   codedeploy  = "http://127.0.0.1:4566"
  #   dynamodb    = "http://127.0.0.1:4566"
  #   ec2         = "http://127.0.0.1:4566"
  #   iam         = "http://127.0.0.1:4566"
  #   s3          = "http://127.0.0.1:4566"
  #   ssm         = "http://127.0.0.1:4566"
  #   sts         = "http://127.0.0.1:4566"
  #   elbv2       = "http://127.0.0.1:4566"
  #   route53     = "http://127.0.0.1:4566"
  # }
}
