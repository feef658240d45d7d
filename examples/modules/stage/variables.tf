variable "system" {
  description = "Name of the production system the stage runs on, usually datomic_system.x.name (or data.datomic_system.x.name for a system of another state)."
  type        = string

  validation {
    condition     = provider::datomic::valid_system_name(var.system)
    error_message = "The system name must be 1-24 lowercase letters, digits and hyphens, start with a letter, and not be \"datomic\"."
  }
}

variable "name" {
  description = "The stage's name, e.g. \"dev\": the name of its query group (Auto Scaling group \"<system>-<name>\")."
  type        = string

  validation {
    # Query group names follow the system name rule, and "primary" names every
    # system's primary compute group.
    condition     = provider::datomic::valid_system_name(var.name) && var.name != "primary"
    error_message = "A stage name must be 1-24 lowercase letters, digits and hyphens, start with a letter, and not be \"datomic\" or \"primary\"."
  }
}

variable "application_name" {
  description = "The application every stage runs: the same name on every stage, each stage with its own revision."
  type        = string
  default     = "web"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,62}[a-z0-9])?$", var.application_name)) && !strcontains(var.application_name, "--")
    error_message = "An application name must be 1-64 lowercase letters, digits and hyphens, start with a letter, not end with a hyphen and not contain \"--\"."
  }
}

variable "revision" {
  description = "The application revision this stage runs, e.g. \"r57\" or a git commit hash. Promote a revision by giving it to the next stage."
  type        = string

  validation {
    condition     = can(regex("^\\S{1,128}$", var.revision))
    error_message = "A revision is 1-128 characters without whitespace."
  }
}

variable "database" {
  description = "The database this stage works against, given to its nodes as DATOMIC_DB_NAME. Defaults to \"<application_name>-<name>\"."
  type        = string
  default     = null
}

variable "parameters" {
  description = "More environment for the stage's nodes (variable name => value), merged over DATOMIC_DB_NAME."
  type        = map(string)
  default     = {}
}

variable "instance_type" {
  description = "Instance type of the stage's nodes, one of provider::datomic::instance_types(\"query_group\"). Defaults to the query group default (provider::datomic::default_instance_type(\"query_group\"))."
  type        = string
  default     = null

  validation {
    condition = contains(
      provider::datomic::instance_types("query_group"),
      coalesce(var.instance_type, provider::datomic::default_instance_type("query_group")),
    )
    error_message = "The instance type must be one that Datomic supports for query groups: ${join(", ", provider::datomic::instance_types("query_group"))}."
  }
}

variable "node_count" {
  description = "Number of nodes of the stage (a development stage usually needs 1; more than 1 is highly available)."
  type        = number
  default     = 1

  validation {
    condition     = var.node_count >= 1 && var.node_count <= 100 && floor(var.node_count) == var.node_count
    error_message = "The node count must be a whole number from 1 to 100."
  }
}

variable "iam_policy" {
  description = "An IAM policy document (JSON) with this stage's own permissions, put inline on the stage's node role. Null: none."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the stage's AWS objects (a Stage tag with the stage's name is added)."
  type        = map(string)
  default     = {}
}
