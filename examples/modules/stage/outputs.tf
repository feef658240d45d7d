output "query_group_id" {
  description = "Id of the stage's query group (<system>/<name>), also its import id."
  value       = datomic_query_group.this.id
}

output "application_id" {
  description = "Id of the stage's application deployment (<system>/<name>/<application>), also its import id."
  value       = datomic_application.this.id
}

output "endpoint" {
  description = "DNS name of the stage's internal load balancer: clients of this stage connect to it on port 8182."
  value       = datomic_query_group.this.endpoint
}

output "autoscaling_group_name" {
  description = "The stage's Auto Scaling group."
  value       = datomic_query_group.this.autoscaling_group_name
}

output "launch_template_id" {
  description = "The stage's launch template."
  value       = datomic_query_group.this.launch_template_id
}

output "launch_template_version" {
  description = "The launch template version that carries the deployed revision."
  value       = datomic_application.this.launch_template_version
}

output "node_role_name" {
  description = "IAM role of the stage's nodes (the application's iam_policy is inline on it)."
  value       = datomic_query_group.this.node_role_name
}

output "application_name" {
  description = "The application the stage runs."
  value       = datomic_query_group.this.application_name
}

output "database" {
  description = "The database the stage works against (DATOMIC_DB_NAME)."
  value       = datomic_query_group.this.parameters["DATOMIC_DB_NAME"]
}

output "revision" {
  description = "The revision deployed to the stage."
  value       = datomic_application.this.revision
}
