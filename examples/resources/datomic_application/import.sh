# An application is imported as <system>/<group>/<application>, the group
# being "primary" for the system's primary compute group.
terraform import datomic_application.tx prod/primary/tx
terraform import datomic_application.web_stage prod/stage/web
