# A query group is imported as <system>/<group>.
terraform import datomic_query_group.stage prod/stage
