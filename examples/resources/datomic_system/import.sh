# A system is imported by its name.
terraform import datomic_system.prod prod
