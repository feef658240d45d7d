//! Data sources: look up an existing Datomic system or query group by name,
//! e.g. from another Terraform state, with the resources' own read code.

use async_trait::async_trait;

use super::common::*;
use super::query_group::QueryGroupResource;
use super::system::SystemResource;
use crate::aws::Clients;
use crate::plugin::{
    AttrPath, Attribute, Block, Ctx, DataSource, Diagnostics, Resource, Schema, Type, Value,
};
use crate::resources::error::OpError;
use crate::rules;

/// `data "datomic_system"`: a system by name.
pub struct SystemDataSource {
    schema: Schema,
    resource: SystemResource,
}

/// `data "datomic_query_group"`: a query group by system and name.
pub struct QueryGroupDataSource {
    schema: Schema,
    resource: QueryGroupResource,
}

impl Default for SystemDataSource {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemDataSource {
    pub fn new() -> Self {
        SystemDataSource {
            schema: system_schema(),
            resource: SystemResource::new(),
        }
    }
}

impl Default for QueryGroupDataSource {
    fn default() -> Self {
        Self::new()
    }
}

impl QueryGroupDataSource {
    pub fn new() -> Self {
        QueryGroupDataSource {
            schema: query_group_schema(),
            resource: QueryGroupResource::new(),
        }
    }
}

fn computed(name: &'static str, ty: Type, description: &str) -> Attribute {
    Attribute::computed(name, ty, description)
}

fn system_schema() -> Schema {
    Schema::new(
        0,
        Block::new("Looks up an existing Datomic Cloud system by name, for example one managed in another Terraform state, and returns its topology, primary compute group and storage.")
            .attr(Attribute::required("name", Type::String, "Name of the system to look up."))
            .attr(computed("id", Type::String, "The system's id: its name."))
            .attr(computed("topology", Type::String, "`solo` or `production`."))
            .attr(computed("instance_type", Type::String, "Instance type of the primary compute group's nodes."))
            .attr(computed("node_count", Type::Number, "Number of nodes of the primary compute group."))
            .attr(computed("application_name", Type::String, "Name of the application the primary compute group runs."))
            .attr(computed("vpc_id", Type::String, "The system's VPC."))
            .attr(computed("subnet_ids", Type::list(Type::String), "The system's subnets, one per availability zone."))
            .attr(computed("security_group_id", Type::String, "Security group of the system's nodes."))
            .attr(computed("bucket_name", Type::String, "The system's S3 bucket."))
            .attr(computed("table_name", Type::String, "The system's DynamoDB table."))
            .attr(computed("catalog_table_name", Type::String, "The system's catalog DynamoDB table (null for a system made before the provider gave storage a catalog table, until its next apply)."))
            .attr(computed("log_group_name", Type::String, "The system's CloudWatch Logs log group (null for a system made before the provider gave storage a log group, until its next apply)."))
            .attr(computed("file_system_id", Type::String, "The system's EFS file system (null for a system made before the provider gave storage one, until its next apply)."))
            .attr(computed("kms_key_arn", Type::String, "ARN of the system's KMS key, which encrypts its storage (null for a system made before the provider gave storage a key, until its next apply)."))
            .attr(computed("node_role_name", Type::String, "IAM role of the primary compute group's nodes."))
            .attr(computed("launch_template_id", Type::String, "Launch template of the primary compute group."))
            .attr(computed("autoscaling_group_name", Type::String, "Auto Scaling group of the primary compute group."))
            .attr(computed("arn", Type::String, "ARN of the primary compute group's Auto Scaling group."))
            .attr(computed("endpoint", Type::String, &format!("Client endpoint of the primary compute group, as Datomic names it: `http://entry.<name>.<region>.datomic.net:{}/` (a name in the system's Route53 private hosted zone); empty when the load balancer, the zone or the name is missing.", rules::CLIENT_PORT)))
            .attr(computed("load_balancer_dns_name", Type::String, &format!("DNS name of the primary compute group's internal Network Load Balancer (clients connect on port {}).", rules::CLIENT_PORT)))
            .attr(computed("client_config", Type::map(Type::String), "What a Datomic client takes as is to connect to the system: `server-type` (`cloud`), `region`, `system` and `endpoint` (`http://entry.<name>.<region>.datomic.net:8182/`)."))
            .attr(computed("tags", Type::map(Type::String), "Tags of the primary compute group, including the provider's `default_tags` it was created with (the provider's own `datomic:` tags excluded).")),
    )
}

fn query_group_schema() -> Schema {
    Schema::new(
        0,
        Block::new("Looks up an existing Datomic query group by its system and name, for example one managed in another Terraform state, and returns its application, capacity and parameters.")
            .attr(Attribute::required("system", Type::String, "Name of the system the query group belongs to."))
            .attr(Attribute::required("name", Type::String, "Name of the query group to look up."))
            .attr(computed("id", Type::String, "`<system>/<name>`."))
            .attr(computed("application_name", Type::String, "The one application the group runs."))
            .attr(computed("instance_type", Type::String, "Instance type of the group's nodes."))
            .attr(computed("min_size", Type::Number, "Minimum number of nodes."))
            .attr(computed("max_size", Type::Number, "Maximum number of nodes."))
            .attr(computed("desired_capacity", Type::Number, "Number of nodes the group runs now (autoscaling may change it)."))
            .attr(computed("parameters", Type::map(Type::String), "The group's environment: variable names to values (empty when it has none)."))
            .attr(computed("node_role_name", Type::String, "IAM role of the group's nodes."))
            .attr(computed("launch_template_id", Type::String, "The group's launch template."))
            .attr(computed("autoscaling_group_name", Type::String, "The group's Auto Scaling group."))
            .attr(computed("arn", Type::String, "ARN of the group's Auto Scaling group."))
            .attr(computed("endpoint", Type::String, &format!("Client endpoint of the group, as Datomic names it: `http://<name>.<system>.<region>.datomic.net:{}/` (a name in the system's Route53 private hosted zone); empty when the load balancer, the zone or the name is missing.", rules::CLIENT_PORT)))
            .attr(computed("load_balancer_dns_name", Type::String, &format!("DNS name of the group's internal Network Load Balancer (clients connect on port {}).", rules::CLIENT_PORT)))
            .attr(computed("tags", Type::map(Type::String), "Tags of the group, including the provider's `default_tags` it was created with (the provider's own `datomic:` tags excluded).")),
    )
}

/// The data source's value from the resource's state: every attribute of the
/// data source schema by the same name, except `tags`, which is the
/// resource's `tags_all` (all tags the objects carry), and null maps, which
/// become empty maps.
fn from_resource_state(schema: &Schema, state: &Value) -> Value {
    let mut v = Value::null_object(&schema.ty());
    for a in &schema.block.attributes {
        let source = if a.name == "tags" { "tags_all" } else { a.name };
        let mut x = state.get(source).cloned().unwrap_or(Value::Null);
        if x.is_null() && matches!(a.ty, Type::Map(_)) {
            x = Value::Map(Default::default());
        }
        v.set_attr(a.name, x);
    }
    v
}

/// A lookup result as the data source's value, or a diagnostic: `not_found`
/// (attribute, summary, detail) when the object does not exist, the AWS
/// error otherwise.
fn lookup_result(
    schema: &Schema,
    found: Result<Value, OpError>,
    not_found: (&str, String, String),
    reading: &str,
    diags: &mut Diagnostics,
) -> Value {
    match found {
        Ok(mut state) if !state.is_null() => {
            // A node role found changed by hand reads as "" in a resource (so
            // that its plan repairs it); another state is told its name.
            if let (Some(""), Some(asg)) = (
                state.get("node_role_name").and_then(Value::as_str),
                state
                    .get("autoscaling_group_name")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ) {
                state.set_attr(
                    "node_role_name",
                    Value::string(rules::node_role_of_group(&asg)),
                );
            }
            from_resource_state(schema, &state)
        }
        Ok(_) => {
            let (attr, summary, detail) = not_found;
            diags.attribute_error(AttrPath::root(attr), summary, detail);
            Value::Null
        }
        Err(e) => {
            aws_error(diags, reading, e);
            Value::Null
        }
    }
}

/// A resource state to read from: null everywhere but the given attributes.
fn lookup_state(schema: &Schema, attrs: &[(&str, &str)]) -> Value {
    let mut v = Value::null_object(&schema.ty());
    for (k, x) in attrs {
        v.set_attr(k, Value::string(*x));
    }
    v
}

#[async_trait]
impl DataSource<Clients> for SystemDataSource {
    fn type_name(&self) -> &'static str {
        super::system::TYPE_NAME
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(n) = str_attr(config, "name") {
            check(diags, rules::check_system_name(&n));
        }
    }

    async fn read(&self, ctx: &Ctx<Clients>, config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(c) = ctx.data(diags) else {
            return Value::Null;
        };
        let name = str_attr(config, "name").unwrap_or_default();
        let state = lookup_state(self.resource.schema(), &[("name", &name)]);
        let found = self.resource.do_read(c, &state).await;
        lookup_result(
            &self.schema,
            found,
            (
                "name",
                "No matching Datomic system found".into(),
                format!(
                    "No Datomic system named {name:?} exists in this region: its primary compute group (Auto Scaling group {:?}) was not found.",
                    rules::asg_name(&name, rules::PRIMARY_GROUP)
                ),
            ),
            &format!("reading Datomic system ({name})"),
            diags,
        )
    }
}

#[async_trait]
impl DataSource<Clients> for QueryGroupDataSource {
    fn type_name(&self) -> &'static str {
        super::query_group::TYPE_NAME
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(n) = str_attr(config, "name") {
            check(diags, rules::check_query_group_name(&n));
        }
        if let Some(s) = str_attr(config, "system") {
            let on_system = rules::check_system_name(&s).map_err(|mut v| {
                v.attribute = "system";
                v
            });
            check(diags, on_system);
        }
    }

    async fn read(&self, ctx: &Ctx<Clients>, config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(c) = ctx.data(diags) else {
            return Value::Null;
        };
        let system = str_attr(config, "system").unwrap_or_default();
        let name = str_attr(config, "name").unwrap_or_default();
        let state = lookup_state(
            self.resource.schema(),
            &[("system", &system), ("name", &name)],
        );
        let found = self.resource.do_read(c, &state).await;
        lookup_result(
            &self.schema,
            found,
            (
                "name",
                "No matching Datomic query group found".into(),
                format!(
                    "System {system:?} has no query group named {name:?} in this region: its Auto Scaling group {:?} was not found.",
                    rules::asg_name(&system, &name)
                ),
            ),
            &format!("reading Datomic query group ({system}/{name})"),
            diags,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(schema: &Schema, attrs: &[(&str, &str)]) -> Value {
        lookup_state(schema, attrs)
    }

    fn error_paths(d: &Diagnostics) -> Vec<String> {
        d.iter()
            .filter_map(|x| x.path.as_ref().map(ToString::to_string))
            .collect()
    }

    #[test]
    fn invalid_names_are_refused_on_their_attribute() {
        let ds = SystemDataSource::new();
        let mut d = Diagnostics::new();
        ds.validate(&config(&ds.schema, &[("name", "Prod")]), &mut d);
        assert_eq!(error_paths(&d), vec!["name"]);

        let ds = QueryGroupDataSource::new();
        let mut d = Diagnostics::new();
        let cfg = config(&ds.schema, &[("system", "datomic"), ("name", "primary")]);
        ds.validate(&cfg, &mut d);
        assert_eq!(error_paths(&d), vec!["name", "system"]);

        let mut d = Diagnostics::new();
        let cfg = config(&ds.schema, &[("system", "prod"), ("name", "stage")]);
        ds.validate(&cfg, &mut d);
        assert!(d.is_empty());
    }

    #[test]
    fn unknown_names_are_not_validated() {
        let ds = SystemDataSource::new();
        let mut cfg = Value::null_object(&ds.schema.ty());
        cfg.set_attr("name", Value::Unknown);
        let mut d = Diagnostics::new();
        ds.validate(&cfg, &mut d);
        assert!(d.is_empty());
    }

    #[test]
    fn resource_state_maps_tags_all_to_tags_and_null_maps_to_empty() {
        let r = QueryGroupResource::new();
        let mut state = lookup_state(r.schema(), &[("system", "prod"), ("name", "stage")]);
        let all = Value::Map([("Team".to_string(), Value::string("data"))].into());
        state.set_attr("tags_all", all.clone());
        state.set_attr("min_size", Value::int(2));
        let ds = QueryGroupDataSource::new();
        let v = from_resource_state(&ds.schema, &state);
        assert_eq!(v.get("tags"), Some(&all));
        assert_eq!(v.get("min_size"), Some(&Value::int(2)));
        assert_eq!(v.get("parameters"), Some(&Value::Map(Default::default())));
        assert_eq!(v.get("system"), Some(&Value::string("prod")));
    }

    #[test]
    fn not_found_is_an_error_on_name() {
        let ds = SystemDataSource::new();
        let mut d = Diagnostics::new();
        let v = lookup_result(
            &ds.schema,
            Ok(Value::Null),
            (
                "name",
                "No matching Datomic system found".into(),
                "x".into(),
            ),
            "reading",
            &mut d,
        );
        assert!(v.is_null());
        assert!(d.has_error());
        assert_eq!(error_paths(&d), vec!["name"]);
    }

    #[test]
    fn every_attribute_of_the_resource_state_exists_there() {
        // The data sources copy attributes by name: each must exist in the
        // resource schema (tags come from tags_all).
        let (sys, sys_r) = (SystemDataSource::new(), SystemResource::new());
        let (qg, qg_r) = (QueryGroupDataSource::new(), QueryGroupResource::new());
        let pairs = [(&sys.schema, sys_r.schema()), (&qg.schema, qg_r.schema())];
        for (ds, r) in pairs {
            for a in &ds.block.attributes {
                let source = if a.name == "tags" { "tags_all" } else { a.name };
                let ra = r.block.attribute(source);
                assert!(ra.is_some(), "{} missing in resource schema", a.name);
                assert_eq!(ra.map(|x| &x.ty), Some(&a.ty), "{}", a.name);
            }
        }
    }
}
