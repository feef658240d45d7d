resource "datomic_system" "prod" {
  name     = "prod"
  topology = "production"
}

# A development stage of the "web" application, working against its own
# database. Further stages share the same application_name.
resource "datomic_query_group" "stage" {
  system           = datomic_system.prod.name
  name             = "stage"
  application_name = "web"
  instance_type    = "t2.medium"
  min_size         = 1
  max_size         = 1

  parameters = {
    DATOMIC_DB_NAME = "web-stage"
  }
}

# Elastic autoscaling of the production "web" application.
resource "datomic_query_group" "web" {
  system           = datomic_system.prod.name
  name             = "web"
  application_name = "web"
  instance_type    = "m5.large"
  min_size         = 2
  max_size         = 6

  parameters = {
    DATOMIC_DB_NAME = "web"
  }

  timeouts {
    create = "45m"
  }
}

# Another application: analytics on one i3.xlarge. Its nodes also get the
# team's own managed policy (Datomic's NodePolicyARN), e.g. to read the
# exports bucket; each application's iam_policy still applies beside it.
resource "datomic_query_group" "analytics" {
  system          = datomic_system.prod.name
  name            = "analytics"
  instance_type   = "i3.xlarge"
  node_policy_arn = "arn:aws:iam::123456789012:policy/analytics-nodes"
}
