# Getting started: a solo system, one t2.small node. Change topology to
# "production" later to upgrade it in place, without losing data.
resource "datomic_system" "dev" {
  name     = "dev"
  topology = "solo"
}

# Production: two i3.large primary nodes spread over availability zones.
# Its primary compute group runs the shared "tx" application (transaction
# functions); the storage is kept if the system is ever destroyed.
resource "datomic_system" "prod" {
  name             = "prod"
  topology         = "production"
  instance_type    = "i3.large"
  node_count       = 2
  application_name = "tx"
  retain_storage   = true

  tags = {
    Team = "data"
  }
}
