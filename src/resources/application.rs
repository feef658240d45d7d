//! `datomic_application`: one application revision deployed to one compute
//! group. Deploying writes a new launch template version carrying the
//! revision and replaces the group's nodes one at a time; the application's
//! IAM policy goes inline on the group's node role.

use std::time::Duration;

use async_trait::async_trait;

use super::common::*;
use super::compute;
use crate::aws::{AwsError, Clients};
use crate::plugin::schema::timeouts_block;
use crate::plugin::{
    Attribute, Block, Ctx, Diagnostics, Nesting, Plan, Resource, Schema, Type, Value,
};
use crate::rules::{self, PRIMARY_GROUP};

pub const TYPE_NAME: &str = "datomic_application";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub struct ApplicationResource {
    schema: Schema,
}

impl Default for ApplicationResource {
    fn default() -> Self {
        Self::new()
    }
}

impl ApplicationResource {
    pub fn new() -> Self {
        ApplicationResource { schema: schema() }
    }
}

fn schema() -> Schema {
    Schema::new(
        0,
        Block::new("A deployment of one application revision to one compute group: the system's primary compute group, or a query group whose `application_name` equals this application's `name`. Each compute group runs exactly one application. Datomic's own ion deploy (CodeDeploy, artifact push) is not modelled: the revision is delivered to the nodes through the launch template, and the nodes are replaced one at a time.")
            .attr(Attribute::computed("id", Type::String, "`<system>/<group>/<name>`, `primary` being the primary compute group.").use_state_for_unknown())
            .attr(Attribute::required("name", Type::String, "The application's name. It must equal the target group's application name.").requires_replace())
            .attr(Attribute::required("system", Type::String, "Name of the system, usually `datomic_system.x.name`.").requires_replace())
            .attr(Attribute::optional("compute_group", Type::String, "Name of the query group to deploy to, usually `datomic_query_group.x.name`. Unset: the system's primary compute group.").requires_replace())
            .attr(Attribute::required("revision", Type::String, "The revision to deploy, an opaque string such as a git sha or `r53`. Changing it deploys in place."))
            .attr(Attribute::optional("transaction_functions", Type::list(Type::String), "Fully qualified names (`namespace/name`) of the transaction functions the application provides. Only the primary compute group runs transaction functions."))
            .attr(Attribute::optional("iam_policy", Type::String, "An IAM policy document (JSON) with the application's own permissions, put inline on the group's node role. Checked at plan time, so that the nodes cannot reach past it: an `Allow` statement may not use `NotAction` or `NotResource`, grant `*` or `*:*` actions on any resource, grant IAM writes (IAM actions other than `iam:Get*`, `iam:List*`, `iam:Generate*` and `iam:Simulate*`; wildcards that can match a write count as writes) or grant `iam:PassRole` on every role (`*`, `arn:aws:iam::<account>:role/*`; name explicit role ARNs or a path instead). Actions match case-insensitively, as IAM's do; `Deny` statements are not limited."))
            .attr(Attribute::computed("launch_template_version", Type::Number, "The launch template version that carries this deployment."))
            .block("timeouts", Nesting::Single, timeouts_block(&["create", "update", "delete"], "30m")),
    )
}

fn group_of(v: &Value) -> String {
    str_attr(v, "compute_group").unwrap_or_else(|| PRIMARY_GROUP.to_string())
}

/// Refuses a target group that does not exist or runs another application.
/// `probe` uses the plan-time client.
async fn check_target(
    c: &Clients,
    system: &str,
    group: &str,
    app: &str,
    probe: bool,
) -> Result<Result<(), rules::Violation>, AwsError> {
    let Some(t) = compute::group_tags(c, system, group, probe).await? else {
        let attr = if group == PRIMARY_GROUP {
            "system"
        } else {
            "compute_group"
        };
        return Ok(Err(rules::Violation::new(
            attr,
            NOT_FOUND,
            format!("The {} does not exist. Create it first, or reference it (datomic_system.x.name / datomic_query_group.x.name) so Terraform orders the two.", rules::group_label(system, group)),
        )));
    };
    let group_app = t.get(rules::TAG_APPLICATION).cloned().unwrap_or_default();
    Ok(rules::check_application_matches_group(
        &rules::group_label(system, group),
        &group_app,
        app,
    ))
}

const NOT_FOUND: &str = "Compute group not found";

impl ApplicationResource {
    async fn deploy(
        &self,
        c: &Clients,
        ctx: &Ctx<Clients>,
        planned: &Value,
        op: &str,
    ) -> Result<Result<Value, rules::Violation>, AwsError> {
        let system = str_attr(planned, "system").unwrap_or_default();
        let group = group_of(planned);
        let name = str_attr(planned, "name").unwrap_or_default();
        if let Err(v) = check_target(c, &system, &group, &name, false).await? {
            return Ok(Err(v));
        }
        let Some(g) = compute::read_group(c, &system, &group).await? else {
            return Err(AwsError::new(
                None,
                format!(
                    "the {} disappeared while deploying",
                    rules::group_label(&system, &group)
                ),
            ));
        };
        let mut node = g.node.clone();
        node.revision = str_attr(planned, "revision");
        node.transaction_functions =
            list_attr(planned, "transaction_functions").unwrap_or_default();
        let policy_name = rules::application_policy_name(&name);
        match &str_attr(planned, "iam_policy") {
            Some(doc) => compute::put_role_policy(c, &system, &group, &policy_name, doc).await?,
            None => compute::delete_role_policy(c, &system, &group, &policy_name).await?,
        }
        let timeout = timeout(planned, op, DEFAULT_TIMEOUT);
        if node != g.node {
            let sg = compute::security_group::of_group(c, &g, &system).await?;
            let full = g.own_tags();
            let image = compute::image_of(c, &g, &system).await?;
            compute::new_version(c, &g, &g.instance_type, &image, &node, &sg, &full).await?;
        }
        // Always: an interrupted deploy may have left nodes on the old revision.
        compute::roll(c, &system, &group, timeout, &ctx.cancel).await?;
        let mut v = planned.clone();
        v.set_attr(
            "id",
            Value::string(rules::application_id(&system, &group, &name)),
        );
        match self.do_read(c, &v).await? {
            x if x.is_null() => Err(AwsError::new(
                None,
                "the deployment is not visible on the compute group right after deploying",
            )),
            x => Ok(Ok(x)),
        }
    }

    async fn do_read(&self, c: &Clients, state: &Value) -> Result<Value, AwsError> {
        let (system, group, name) = match (str_attr(state, "system"), str_attr(state, "name")) {
            (Some(s), Some(n)) => (s, group_of(state), n),
            _ => match str_attr(state, "id").map(|id| rules::parse_application_id(&id)) {
                Some(Ok(p)) => p,
                _ => return Ok(Value::Null),
            },
        };
        let Some(g) = compute::read_group(c, &system, &group).await? else {
            return Ok(Value::Null);
        };
        // Deployed means: the group runs this application and carries a revision.
        let group_app = g
            .tags
            .get(rules::TAG_APPLICATION)
            .cloned()
            .unwrap_or_else(|| g.node.application.clone());
        let Some(revision) = g.node.revision.clone().filter(|_| group_app == name) else {
            return Ok(Value::Null);
        };
        let mut v = state.clone();
        v.set_attr(
            "id",
            Value::string(rules::application_id(&system, &group, &name)),
        );
        v.set_attr("system", Value::string(&system));
        v.set_attr("name", Value::string(&name));
        v.set_attr(
            "compute_group",
            if group == PRIMARY_GROUP {
                Value::Null
            } else {
                Value::string(&group)
            },
        );
        v.set_attr("revision", Value::string(revision));
        let fns = &g.node.transaction_functions;
        let prior_fns = state
            .get("transaction_functions")
            .cloned()
            .unwrap_or(Value::Null);
        v.set_attr(
            "transaction_functions",
            if fns.is_empty() && prior_fns.is_null() {
                Value::Null
            } else {
                string_list(fns)
            },
        );
        let policy =
            compute::get_role_policy(c, &system, &group, &rules::application_policy_name(&name))
                .await?;
        // Keep the user's formatting when the document is the same JSON.
        let prior_policy = str_attr(state, "iam_policy");
        let same = |a: &str, b: &str| {
            serde_json::from_str::<serde_json::Value>(a).ok()
                == serde_json::from_str::<serde_json::Value>(b).ok()
        };
        v.set_attr(
            "iam_policy",
            match (policy, prior_policy) {
                (Some(p), Some(prior)) if same(&p, &prior) => Value::string(prior),
                (Some(p), _) => Value::string(p),
                (None, _) => Value::Null,
            },
        );
        v.set_attr(
            "launch_template_version",
            Value::int(g.launch_template_version),
        );
        Ok(v)
    }
}

#[async_trait]
impl Resource<Clients> for ApplicationResource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(n) = str_attr(config, "name") {
            check(diags, rules::check_application_name("name", &n));
        }
        if let Some(s) = str_attr(config, "system") {
            check(
                diags,
                rules::check_system_name(&s).map_err(|mut v| {
                    v.attribute = "system";
                    v
                }),
            );
        }
        if let Some(g) = str_attr(config, "compute_group") {
            check(
                diags,
                rules::check_query_group_name(&g).map_err(|mut v| {
                    v.attribute = "compute_group";
                    v
                }),
            );
        }
        if let Some(r) = str_attr(config, "revision") {
            check(diags, rules::check_revision(&r));
        }
        if !is_unknown(config, "compute_group") {
            if let Some(fns) = list_attr(config, "transaction_functions") {
                check_all(
                    diags,
                    rules::check_transaction_functions(
                        str_attr(config, "compute_group").as_deref(),
                        &fns,
                    ),
                );
            }
        }
        if let Some(p) = str_attr(config, "iam_policy") {
            check_all(diags, rules::check_iam_policy(&p));
        }
        validate_timeouts(config, diags);
    }

    async fn modify_plan(&self, ctx: &Ctx<Clients>, plan: &mut Plan, diags: &mut Diagnostics) {
        if let (Some(s), Some(n)) = (
            str_attr(&plan.planned, "system"),
            str_attr(&plan.planned, "name"),
        ) {
            if !is_unknown(&plan.planned, "compute_group") {
                plan.set(
                    "id",
                    Value::string(rules::application_id(&s, &group_of(&plan.planned), &n)),
                );
            }
        }
        if !plan.is_create() && plan.planned != plan.prior {
            plan.set("launch_template_version", Value::Unknown);
        }
        // Check the target now when it exists (else at apply, before any write).
        if let (Some(c), Some(s), Some(n)) = (
            ctx.data.as_deref(),
            str_attr(&plan.planned, "system"),
            str_attr(&plan.planned, "name"),
        ) {
            if is_unknown(&plan.planned, "compute_group") {
                return;
            }
            match check_target(c, &s, &group_of(&plan.planned), &n, true).await {
                Ok(Err(v)) if v.summary != NOT_FOUND => violation(diags, &v),
                Ok(_) => {}
                Err(e) => diags.warning(
                    "Could not check the application's compute group",
                    e.to_string(),
                ),
            }
        }
    }

    async fn create(&self, ctx: &Ctx<Clients>, planned: &Value, diags: &mut Diagnostics) -> Value {
        let Some(c) = writer(ctx, diags) else {
            return Value::Null;
        };
        match cancellable(
            &ctx.cancel,
            ("create", timeout(planned, "create", DEFAULT_TIMEOUT)),
            self.deploy(c, ctx, planned, "create"),
        )
        .await
        {
            Ok(Ok(v)) => v,
            Ok(Err(v)) => {
                violation(diags, &v);
                Value::Null
            }
            Err(e) => {
                aws_error(
                    diags,
                    &format!(
                        "deploying Datomic application ({})",
                        str_attr(planned, "name").unwrap_or_default()
                    ),
                    e,
                );
                Value::Null
            }
        }
    }

    async fn read(&self, ctx: &Ctx<Clients>, state: &Value, diags: &mut Diagnostics) -> Value {
        let Some(c) = ctx.data(diags) else {
            return state.clone();
        };
        match self.do_read(c, state).await {
            Ok(v) => v,
            Err(e) => {
                aws_error(diags, "reading Datomic application", e);
                state.clone()
            }
        }
    }

    async fn update(
        &self,
        ctx: &Ctx<Clients>,
        prior: &Value,
        planned: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        let Some(c) = writer(ctx, diags) else {
            return prior.clone();
        };
        match cancellable(
            &ctx.cancel,
            ("update", timeout(planned, "update", DEFAULT_TIMEOUT)),
            self.deploy(c, ctx, planned, "update"),
        )
        .await
        {
            Ok(Ok(v)) => v,
            Ok(Err(v)) => {
                violation(diags, &v);
                prior.clone()
            }
            Err(e) => {
                aws_error(
                    diags,
                    &format!(
                        "deploying Datomic application ({})",
                        str_attr(planned, "name").unwrap_or_default()
                    ),
                    e,
                );
                prior.clone()
            }
        }
    }

    async fn delete(&self, ctx: &Ctx<Clients>, prior: &Value, diags: &mut Diagnostics) {
        let Some(c) = writer(ctx, diags) else { return };
        let system = str_attr(prior, "system").unwrap_or_default();
        let group = group_of(prior);
        let name = str_attr(prior, "name").unwrap_or_default();
        let result = cancellable(
            &ctx.cancel,
            ("delete", timeout(prior, "delete", DEFAULT_TIMEOUT)),
            async {
                compute::delete_role_policy(
                    c,
                    &system,
                    &group,
                    &rules::application_policy_name(&name),
                )
                .await?;
                // Undeploy: a new version without the revision (nodes need no replacement).
                if let Some(g) = compute::read_group(c, &system, &group).await? {
                    if g.node.revision.is_some() {
                        let mut node = g.node.clone();
                        node.revision = None;
                        node.transaction_functions.clear();
                        let sg = compute::security_group::of_group(c, &g, &system).await?;
                        let image = compute::image_of(c, &g, &system).await?;
                        compute::new_version(
                            c,
                            &g,
                            &g.instance_type,
                            &image,
                            &node,
                            &sg,
                            &g.own_tags(),
                        )
                        .await?;
                    }
                }
                Ok::<_, AwsError>(())
            },
        )
        .await;
        if let Err(e) = result {
            aws_error(
                diags,
                &format!("undeploying Datomic application ({system}/{group}/{name})"),
                e,
            );
        }
    }

    async fn import(&self, _ctx: &Ctx<Clients>, id: &str, diags: &mut Diagnostics) -> Value {
        let mut v = Value::null_object(&self.schema.ty());
        if let Some((system, group, name)) = check(diags, rules::parse_application_id(id)) {
            v.set_attr("id", Value::string(id));
            v.set_attr("system", Value::string(system));
            v.set_attr("name", Value::string(name));
            if group != PRIMARY_GROUP {
                v.set_attr("compute_group", Value::string(group));
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::PathStepExt;

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut v = Value::null_object(&schema().ty());
        for (k, x) in pairs {
            v.set_attr(k, x.clone());
        }
        v
    }

    fn errors_at(r: &ApplicationResource, c: &Value) -> Vec<String> {
        let mut d = Diagnostics::new();
        r.validate(c, &mut d);
        d.iter()
            .filter_map(|x| x.path.as_ref().map(|p| p.first_attr()))
            .collect()
    }

    #[test]
    fn transaction_functions_only_on_the_primary_group() {
        let r = ApplicationResource::new();
        let fns = Value::List(vec![Value::string("my.ns/inc")]);
        let base = [
            ("system", Value::string("prod")),
            ("name", Value::string("tx")),
            ("revision", Value::string("r1")),
        ];
        let mut primary = base.to_vec();
        primary.push(("transaction_functions", fns.clone()));
        assert!(errors_at(&r, &config(&primary)).is_empty());
        let mut query = primary.clone();
        query.push(("compute_group", Value::string("dev")));
        assert_eq!(
            errors_at(&r, &config(&query)),
            vec!["transaction_functions".to_string()]
        );
        let mut bad = base.to_vec();
        bad.push((
            "transaction_functions",
            Value::List(vec![Value::string("no-namespace")]),
        ));
        assert_eq!(
            errors_at(&r, &config(&bad)),
            vec!["transaction_functions".to_string()]
        );
    }

    #[test]
    fn iam_policy_and_revision_are_checked() {
        let r = ApplicationResource::new();
        let mut c = vec![
            ("system", Value::string("prod")),
            ("name", Value::string("web")),
            ("revision", Value::string("has space")),
        ];
        assert_eq!(errors_at(&r, &config(&c)), vec!["revision".to_string()]);
        c[2] = ("revision", Value::string("r1"));
        c.push(("iam_policy", Value::string(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)));
        assert_eq!(errors_at(&r, &config(&c)), vec!["iam_policy".to_string()]);
        c[3] = ("iam_policy", Value::string("{not json"));
        assert_eq!(errors_at(&r, &config(&c)), vec!["iam_policy".to_string()]);
    }
}
