# Look up a system managed in another Terraform state, e.g. to place clients
# in its network.
data "datomic_system" "prod" {
  name = "prod"
}

output "prod_network" {
  value = {
    vpc_id            = data.datomic_system.prod.vpc_id
    subnet_ids        = data.datomic_system.prod.subnet_ids
    security_group_id = data.datomic_system.prod.security_group_id
  }
}
