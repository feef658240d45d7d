# A production Datomic system and the applications it runs: the same
# application names on every system that uses this module, each system in its
# own root configuration, state and (against real AWS) account or role.

terraform {
  required_version = ">= 1.5"

  required_providers {
    datomic = {
      source = "datomic-community/datomic"
    }
  }
}

variable "name" {
  description = "The system's name (1-24 lowercase letters, digits and hyphens)."
  type        = string
}

variable "web_revision" {
  description = "Revision of the \"web\" application on the primary compute group."
  type        = string
}

variable "reports_revision" {
  description = "Revision of the \"reports\" application on the reports query group."
  type        = string
}

resource "datomic_system" "this" {
  name             = var.name
  topology         = "production"
  application_name = "web"
}

resource "datomic_application" "web" {
  system   = datomic_system.this.name
  name     = datomic_system.this.application_name
  revision = var.web_revision
}

resource "datomic_query_group" "reports" {
  system           = datomic_system.this.name
  name             = "reports"
  application_name = "reports"

  parameters = {
    DATOMIC_DB_NAME = "${var.name}-reports"
  }
}

resource "datomic_application" "reports" {
  system        = datomic_system.this.name
  compute_group = datomic_query_group.reports.name
  name          = datomic_query_group.reports.application_name
  revision      = var.reports_revision
}

output "system" {
  description = "The system's name and Auto Scaling groups."
  value = {
    name = datomic_system.this.name
    autoscaling_groups = [
      datomic_system.this.autoscaling_group_name,
      datomic_query_group.reports.autoscaling_group_name,
    ]
  }
}
