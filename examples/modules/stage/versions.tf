terraform {
  # Provider-defined functions (used by the variable validations) need 1.8.
  required_version = ">= 1.8"

  required_providers {
    datomic = {
      source = "datomic-community/datomic"
    }
  }
}
