//! `datomic_application`: one application revision deployed to one compute
//! group as Datomic deploys ions: the revision ion push put in the region's
//! code bucket, deployed in place by CodeDeploy (see `deploy`), with no
//! node replaced. Transaction functions and secret parameters still reach
//! the nodes through the launch template (a change of those replaces the
//! nodes one at a time); the application's IAM policy goes inline on the
//! group's node role. Its secret parameters
//! (write-only) go to SSM Parameter Store (see `secrets`); the nodes learn
//! only where they are.

mod schema;

use std::time::Duration;

use async_trait::async_trait;

use super::common::*;
use super::compute;
use super::deploy;
use super::model::{timeout as timeout_of, Model, Op};
use super::secrets;
use crate::aws::{Clients, Lookup};
use crate::plugin::{Ctx, Diagnostics, Plan, Resource, Schema, Value};
use crate::resources::error::OpError;
use crate::rules::{self, PRIMARY_GROUP};
pub use schema::attr;
use schema::{schema, ApplicationModel};

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

fn group_of(v: &Value) -> String {
    str_attr(v, attr::COMPUTE_GROUP).unwrap_or_else(|| PRIMARY_GROUP.to_string())
}

/// Refuses a target group that does not exist or runs another application.
async fn check_target(
    c: &Clients,
    system: &str,
    group: &str,
    app: &str,
    lookup: Lookup,
) -> Result<Result<(), rules::Violation>, OpError> {
    let Some(t) = compute::group_tags(c, system, group, lookup).await? else {
        let attr = if group == PRIMARY_GROUP {
            attr::SYSTEM
        } else {
            attr::COMPUTE_GROUP
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

/// `package_hash` at plan: the file's SHA-256 (a configured one must be
/// it), null without a package, unknown while the path is. A file that
/// cannot be read is an error when the plan would upload it (a create, a
/// new revision or another package), else a warning keeping the hash.
async fn plan_package_hash(plan: &mut Plan, diags: &mut Diagnostics, revision_changed: bool) {
    let configured = plan.config_sets(attr::PACKAGE_HASH);
    if is_unknown(&plan.config, attr::PACKAGE) {
        if !configured {
            plan.set(attr::PACKAGE_HASH, Value::Unknown);
        }
        return;
    }
    let Some(path) = str_attr(&plan.config, attr::PACKAGE) else {
        if !configured {
            plan.set(attr::PACKAGE_HASH, Value::Null);
        }
        return;
    };
    match deploy::package::hash_file(&path).await {
        Ok(h) => match str_attr(&plan.config, attr::PACKAGE_HASH) {
            Some(c) if c != h => violation(diags, &rules::package_hash_mismatch(&path, &c, &h)),
            _ if is_unknown(&plan.config, attr::PACKAGE_HASH) => {}
            _ => plan.set(attr::PACKAGE_HASH, Value::string(h)),
        },
        Err(e) => {
            let v = rules::package_unreadable(&path, &e);
            let uploads =
                revision_changed || plan.get(attr::PACKAGE) != plan.prior_get(attr::PACKAGE);
            if uploads {
                violation(diags, &v);
            } else {
                diags.attribute_warning(
                    crate::plugin::AttrPath::root(v.attribute),
                    v.summary,
                    format!("{} This plan uploads nothing; an apply that changes `revision` needs the file.", v.detail),
                );
            }
        }
    }
}

impl ApplicationResource {
    /// The create and the update: deploys the plan under the operation's
    /// timeout and StopProvider, ending in a read. On failure the state is
    /// `unchanged` (null for a create, the prior state for an update).
    async fn run_deploy(
        &self,
        ctx: &Ctx<Clients>,
        planned: &Value,
        op: Op,
        unchanged: Value,
        diags: &mut Diagnostics,
    ) -> Value {
        let Some(c) = writer(ctx, diags) else {
            return unchanged;
        };
        let planned = ApplicationModel::from_value(planned);
        let deadline = (
            op.name(),
            timeout_of(&planned.timeouts, op, DEFAULT_TIMEOUT),
        );
        match cancellable(&ctx.cancel, deadline, self.deploy(c, ctx, &planned, op)).await {
            Ok(Ok(v)) => v,
            Ok(Err(v)) => {
                violation(diags, &v);
                unchanged
            }
            Err(e) => {
                // A failed deployment leaves the group on the revision it ran
                // before (CodeDeploy rolled back): the state says what runs.
                let after = match &e {
                    OpError::Deployment(_) => self.read_model(c, &planned).await.ok().flatten(),
                    _ => None,
                };
                let name = planned.name.clone().unwrap_or_default();
                aws_error(diags, &format!("deploying Datomic application ({name})"), e);
                match after {
                    Some(mut m) => {
                        m.timeouts = planned.timeouts.clone();
                        m.to_value()
                    }
                    None => unchanged,
                }
            }
        }
    }

    async fn deploy(
        &self,
        c: &Clients,
        ctx: &Ctx<Clients>,
        planned: &ApplicationModel,
        op: Op,
    ) -> Result<Result<Value, rules::Violation>, OpError> {
        let system = planned.system.clone().unwrap_or_default();
        let group = planned.group();
        let name = planned.name.clone().unwrap_or_default();
        if let Err(v) = check_target(c, &system, &group, &name, Lookup::Apply).await? {
            return Ok(Err(v));
        }
        let revision = planned.revision.clone().unwrap_or_default();
        // Before anything is written: a revision never pushed changes
        // nothing; a package is uploaded first (refused when the key holds
        // other content).
        let pushed = match (&planned.package, &planned.package_hash) {
            (Some(path), Some(hash)) => {
                deploy::package::upload(c, &name, &revision, path, hash).await?
            }
            _ => deploy::check_pushed(c, &name, &revision).await?,
        };
        let bucket = match pushed {
            Ok(b) => b,
            Err(v) => return Ok(Err(v)),
        };
        let Some(g) = compute::read_group(c, &system, &group).await? else {
            return Err(OpError::Vanished(format!(
                "the {} disappeared while deploying",
                rules::group_label(&system, &group)
            )));
        };
        let mut node = g.node.clone();
        node.transaction_functions = planned.transaction_functions.clone().unwrap_or_default();
        let owner = secrets::Owner {
            system: &system,
            group: &group,
            application: &name,
        };
        let wanted = planned
            .secret_parameters_wo
            .clone()
            .filter(|m| !m.is_empty());
        let version = planned.secret_parameters_wo_version;
        // Written at create and when the version changes (the values are never
        // stored, so that is the only change Terraform can see); removed when
        // unset. SSM is never called for an application without secrets.
        let had = node.secret_parameters_path.is_some();
        let write = match &wanted {
            Some(_) => op == Op::Create || !had || node.secret_parameters_version != version,
            None => had,
        };
        if write {
            let result = match &wanted {
                Some(m) => secrets::sync(c, owner, m, attr::SECRET_PARAMETERS_WO).await?,
                None => secrets::delete_all(c, owner).await.map(Ok)?,
            };
            if let Err(v) = result {
                return Ok(Err(v));
            }
        }
        node.secret_parameters_path = wanted.as_ref().map(|_| owner.path());
        node.secret_parameters_version = version;
        let secrets_policy = rules::secrets_policy_name(&name);
        match &node.secret_parameters_path {
            Some(path) => {
                let doc = rules::secrets_policy("aws", &c.region, &c.account().await?, path);
                compute::put_role_policy(c, &system, &group, &secrets_policy, &doc).await?
            }
            None if had => compute::delete_role_policy(c, &system, &group, &secrets_policy).await?,
            None => {}
        }
        let policy_name = rules::application_policy_name(&name);
        match &planned.iam_policy {
            Some(doc) => compute::put_role_policy(c, &system, &group, &policy_name, doc).await?,
            None => compute::delete_role_policy(c, &system, &group, &policy_name).await?,
        }
        let timeout = timeout_of(&planned.timeouts, op, DEFAULT_TIMEOUT);
        if node != g.node {
            // The code is CodeDeploy's now: new versions no longer carry it.
            node.revision = None;
            let sg = compute::security_group::of_group(c, &g, &system).await?;
            let full = g.own_tags();
            let image = compute::image_of(c, &g, &system).await?;
            compute::new_version(c, &g, &g.instance_type, &image, &node, &sg, &full).await?;
        }
        // Always: an interrupted roll may have left nodes on an old version.
        compute::roll(c, &system, &group, timeout, &ctx.cancel).await?;
        let target = deploy::Target {
            system: &system,
            group: &group,
            application: &name,
        };
        // The group's tags, but its create marker (the group's own, not theirs).
        let mut identity = g.own_tags();
        identity.remove(rules::TAG_CREATED);
        deploy::deploy(
            c,
            &target,
            &bucket,
            &revision,
            &identity,
            timeout,
            &ctx.cancel,
        )
        .await?;
        let mut v = planned.clone();
        v.id = Some(rules::application_id(&system, &group, &name));
        match self.read_model(c, &v).await? {
            None => Err(OpError::Vanished(
                "the deployment is not visible on the compute group right after deploying".into(),
            )),
            Some(x) => Ok(Ok(x.to_value())),
        }
    }

    /// Reads the deployment a state names; None when the group does not run
    /// it.
    async fn read_model(
        &self,
        c: &Clients,
        state: &ApplicationModel,
    ) -> Result<Option<ApplicationModel>, OpError> {
        let (system, group, name) = match (state.system.clone(), state.name.clone()) {
            (Some(s), Some(n)) => (s, state.group(), n),
            _ => match state.id.as_deref().map(rules::parse_application_id) {
                Some(Ok(p)) => p,
                _ => return Ok(None),
            },
        };
        let Some(g) = compute::read_group(c, &system, &group).await? else {
            return Ok(None);
        };
        // Deployed means: the group runs this application, and its
        // deployment group has deployed a revision of it. (A deployment made
        // by an earlier build, through the launch template, has none: it is
        // planned again, as one CodeDeploy deployment.)
        let group_app = g
            .tags
            .get(rules::TAG_APPLICATION)
            .cloned()
            .unwrap_or_else(|| g.node.application.clone());
        if group_app != name {
            return Ok(None);
        }
        let target = deploy::Target {
            system: &system,
            group: &group,
            application: &name,
        };
        let Some(Some(running)) = deploy::codedeploy::running(c, &target).await? else {
            return Ok(None);
        };
        let Some(revision) = running.revision else {
            return Ok(None);
        };
        let mut v = state.clone();
        v.id = Some(rules::application_id(&system, &group, &name));
        v.system = Some(system.clone());
        v.name = Some(name.clone());
        v.compute_group = (group != PRIMARY_GROUP).then(|| group.clone());
        v.revision = Some(revision);
        let fns = &g.node.transaction_functions;
        v.transaction_functions = if fns.is_empty() && state.transaction_functions.is_none() {
            None
        } else {
            Some(fns.clone())
        };
        let policy =
            compute::get_role_policy(c, &system, &group, &rules::application_policy_name(&name))
                .await?;
        // Keep the user's formatting when the document is the same JSON.
        let same = |a: &str, b: &str| {
            serde_json::from_str::<serde_json::Value>(a).ok()
                == serde_json::from_str::<serde_json::Value>(b).ok()
        };
        v.iam_policy = match (policy, state.iam_policy.clone()) {
            (Some(p), Some(prior)) if same(&p, &prior) => Some(prior),
            (Some(p), _) => Some(p),
            (None, _) => None,
        };
        v.launch_template_version = Some(g.launch_template_version);
        v.arn = Some(target.arn(c).await?);
        v.deployment_id = Some(running.deployment_id);
        // The values are write-only: only their version can be read back.
        v.secret_parameters_wo = None;
        v.secret_parameters_wo_version = g.node.secret_parameters_version;
        Ok(Some(v))
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
        if let Some(n) = str_attr(config, attr::NAME) {
            check(diags, rules::check_application_name(attr::NAME, &n));
        }
        if let Some(s) = str_attr(config, attr::SYSTEM) {
            check(
                diags,
                rules::check_system_name(&s).map_err(|mut v| {
                    v.attribute = attr::SYSTEM;
                    v
                }),
            );
        }
        if let Some(g) = str_attr(config, attr::COMPUTE_GROUP) {
            check(
                diags,
                rules::check_query_group_name(&g).map_err(|mut v| {
                    v.attribute = attr::COMPUTE_GROUP;
                    v
                }),
            );
        }
        if let Some(r) = str_attr(config, attr::REVISION) {
            check(diags, rules::check_revision(&r));
        }
        if !is_unknown(config, attr::COMPUTE_GROUP) {
            if let Some(fns) = list_attr(config, attr::TRANSACTION_FUNCTIONS) {
                check_all(
                    diags,
                    rules::check_transaction_functions(
                        str_attr(config, attr::COMPUTE_GROUP).as_deref(),
                        &fns,
                    ),
                );
            }
        }
        match (
            str_attr(config, attr::PACKAGE_HASH),
            config.get(attr::PACKAGE).is_none_or(Value::is_null),
        ) {
            (Some(_), true) => {
                violation(diags, &rules::package_hash_without_package());
            }
            (Some(h), false) => {
                check(diags, rules::check_package_hash(&h));
            }
            (None, _) => {}
        }
        if let Some(p) = str_attr(config, attr::IAM_POLICY) {
            check_all(diags, rules::check_iam_policy(&p));
        }
        if let Some(m) = map_attr(config, attr::SECRET_PARAMETERS_WO) {
            check_all(diags, rules::check_secret_parameters(&m));
        }
        validate_timeouts(config, diags);
    }

    async fn modify_plan(&self, ctx: &Ctx<Clients>, plan: &mut Plan, diags: &mut Diagnostics) {
        if let (Some(s), Some(n)) = (
            str_attr(&plan.planned, attr::SYSTEM),
            str_attr(&plan.planned, attr::NAME),
        ) {
            if !is_unknown(&plan.planned, attr::COMPUTE_GROUP) {
                plan.set(
                    attr::ID,
                    Value::string(rules::application_id(&s, &group_of(&plan.planned), &n)),
                );
            }
        }
        // The launch template changes with what it carries, the deployment
        // with the revision; the deployment group's ARN is known up front.
        let changed = |p: &Plan, a: &str| p.planned.get(a) != p.prior.get(a);
        let carried = changed(plan, attr::TRANSACTION_FUNCTIONS)
            || changed(plan, attr::SECRET_PARAMETERS_WO_VERSION);
        let revision_changed = plan.is_create() || changed(plan, attr::REVISION);
        plan_package_hash(plan, diags, revision_changed).await;
        if !plan.is_create() {
            if carried {
                plan.set(attr::LAUNCH_TEMPLATE_VERSION, Value::Unknown);
            }
            if revision_changed {
                plan.set(attr::DEPLOYMENT_ID, Value::Unknown);
            }
        }
        // Check the target now when it exists (else at apply, before any write).
        if let (Some(c), Some(s), Some(n)) = (
            ctx.data.as_deref(),
            str_attr(&plan.planned, attr::SYSTEM),
            str_attr(&plan.planned, attr::NAME),
        ) {
            if is_unknown(&plan.planned, attr::COMPUTE_GROUP) {
                return;
            }
            let group = group_of(&plan.planned);
            if let Some(account) = c.account_id() {
                plan.set(
                    attr::ARN,
                    Value::string(rules::deployment_group_arn(
                        "aws",
                        &c.region,
                        account,
                        &n,
                        &rules::deployment_group_name(&s, &group),
                    )),
                );
            }
            match check_target(c, &s, &group, &n, Lookup::Plan).await {
                Ok(Err(v)) if v.summary != NOT_FOUND => violation(diags, &v),
                Ok(_) => {}
                Err(e) => diags.warning(
                    "Could not check the application's compute group",
                    e.to_string(),
                ),
            }
            // A revision not pushed yet is a warning at plan, when the code
            // bucket says so; the apply refuses it. Not an error here: a
            // plan error would also stop `terraform destroy`, whose plan
            // plans the configuration first, and the revision may be pushed
            // between plan and apply. A package is checked against what
            // the bucket holds at the revision's key instead.
            let package_hash = str_attr(&plan.planned, attr::PACKAGE_HASH);
            let upload = package_hash.is_some() && changed(plan, attr::PACKAGE_HASH);
            let revision = str_attr(&plan.planned, attr::REVISION);
            if let (Some(h), Some(r), true) = (&package_hash, &revision, revision_changed || upload)
            {
                match deploy::package::check_at_plan(c, &n, r, h).await {
                    Ok(Some(Err(v))) => diags.attribute_warning(
                        crate::plugin::AttrPath::root(v.attribute),
                        v.summary,
                        format!("{} The apply stops here.", v.detail),
                    ),
                    Ok(_) => {}
                    Err(e) => diags.warning(
                        "Could not check the revision's key in the code bucket",
                        e.to_string(),
                    ),
                }
            } else if let (true, None, Some(r)) = (
                revision_changed && !plan.config_sets(attr::PACKAGE),
                &package_hash,
                revision,
            ) {
                match deploy::pushed_at_plan(c, &n, &r).await {
                    Ok(Some(Err(v))) => diags.attribute_warning(
                        crate::plugin::AttrPath::root(v.attribute),
                        v.summary,
                        format!(
                            "{} The apply stops here unless it is pushed first.",
                            v.detail
                        ),
                    ),
                    Ok(_) => {}
                    Err(e) => diags.warning(
                        "Could not check that the revision was pushed",
                        e.to_string(),
                    ),
                }
            }
        }
    }

    async fn create(&self, ctx: &Ctx<Clients>, planned: &Value, diags: &mut Diagnostics) -> Value {
        self.run_deploy(ctx, planned, Op::Create, Value::Null, diags)
            .await
    }

    async fn read(&self, ctx: &Ctx<Clients>, state: &Value, diags: &mut Diagnostics) -> Value {
        let Some(c) = ctx.data(diags) else {
            return state.clone();
        };
        match self
            .read_model(c, &ApplicationModel::from_value(state))
            .await
        {
            Ok(v) => v.map_or(Value::Null, |v| v.to_value()),
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
        self.run_deploy(ctx, planned, Op::Update, prior.clone(), diags)
            .await
    }

    async fn delete(&self, ctx: &Ctx<Clients>, prior: &Value, diags: &mut Diagnostics) {
        let Some(c) = writer(ctx, diags) else { return };
        let prior = ApplicationModel::from_value(prior);
        let system = prior.system.clone().unwrap_or_default();
        let group = prior.group();
        let name = prior.name.clone().unwrap_or_default();
        let result = cancellable(
            &ctx.cancel,
            (
                Op::Delete.name(),
                timeout_of(&prior.timeouts, Op::Delete, DEFAULT_TIMEOUT),
            ),
            async {
                let mut had_secrets = prior.secret_parameters_wo_version.is_some();
                // The deployment group goes; the code bucket never does.
                let target = deploy::Target {
                    system: &system,
                    group: &group,
                    application: &name,
                };
                deploy::remove(c, &target).await?;
                compute::delete_role_policy(
                    c,
                    &system,
                    &group,
                    &rules::application_policy_name(&name),
                )
                .await?;
                // Undeploy: a new version without the revision (nodes need no replacement).
                if let Some(g) = compute::read_group(c, &system, &group).await? {
                    had_secrets |= g.node.secret_parameters_path.is_some();
                    if g.node.revision.is_some() || g.node.secret_parameters_path.is_some() {
                        let mut node = g.node.clone();
                        node.revision = None;
                        node.transaction_functions.clear();
                        node.secret_parameters_path = None;
                        node.secret_parameters_version = None;
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
                // After the nodes stopped being told where they are.
                if had_secrets {
                    let owner = secrets::Owner {
                        system: &system,
                        group: &group,
                        application: &name,
                    };
                    secrets::delete_all(c, owner).await?;
                    let policy = rules::secrets_policy_name(&name);
                    compute::delete_role_policy(c, &system, &group, &policy).await?;
                }
                Ok::<_, OpError>(())
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
            let m = ApplicationModel {
                id: Some(id.to_string()),
                system: Some(system),
                name: Some(name),
                compute_group: (group != PRIMARY_GROUP).then_some(group),
                ..Default::default()
            };
            v = m.to_value();
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::PathStepExt;

    fn config(pairs: &[(&str, Value)]) -> Value {
        crate::resources::testing::config(&schema(), pairs)
    }

    fn errors_at(r: &ApplicationResource, c: &Value) -> Vec<String> {
        let mut d = Diagnostics::new();
        r.validate(c, &mut d);
        d.iter()
            .filter_map(|x| x.path.as_ref().map(|p| p.first_attr()))
            .collect()
    }

    #[test]
    fn the_model_covers_the_schema() {
        let empty = Value::null_object(&schema().ty());
        assert_eq!(ApplicationModel::from_value(&empty).to_value(), empty);
    }

    #[test]
    fn secrets_are_write_only_sensitive_and_versioned() {
        let s = schema();
        let find = |n: &str| s.block.attributes.iter().find(|a| a.name == n);
        let wo = find(attr::SECRET_PARAMETERS_WO).expect("secret_parameters_wo");
        assert!(wo.write_only && wo.sensitive && wo.optional && !wo.computed);
        let version = find(attr::SECRET_PARAMETERS_WO_VERSION).expect("its version");
        assert!(version.optional && !version.write_only && !version.computed);
        assert!(crate::plugin::write_only::misuses(&s).is_empty());
        // A state written before the attributes existed decodes with them null.
        let old = ApplicationModel::from_value(&Value::null_object(&s.ty()));
        assert_eq!(old.secret_parameters_wo, None);
        assert_eq!(old.secret_parameters_wo_version, None);
    }

    #[test]
    fn a_state_of_the_previous_build_decodes_without_the_secret_attributes() {
        let old = br#"{"id":"prod/primary/tx","name":"tx","system":"prod","compute_group":null,"revision":"r1","transaction_functions":null,"iam_policy":null,"launch_template_version":3,"timeouts":null}"#;
        let mut d = Diagnostics::new();
        let v = crate::plugin::upgrade::upgrade_state(
            TYPE_NAME,
            &schema(),
            &Default::default(),
            0,
            old,
            &mut d,
        );
        assert!(!d.has_error(), "{d:?}");
        let m = ApplicationModel::from_value(&v.unwrap_or(Value::Null));
        assert_eq!(m.revision.as_deref(), Some("r1"));
        assert_eq!(m.launch_template_version, Some(3));
        assert_eq!(m.secret_parameters_wo, None);
        assert_eq!(m.secret_parameters_wo_version, None);
    }

    #[test]
    fn secret_names_and_values_are_checked_without_quoting_values() {
        let r = ApplicationResource::new();
        let base = vec![
            ("system", Value::string("prod")),
            ("name", Value::string("web")),
            ("revision", Value::string("r1")),
        ];
        let secrets = |pairs: &[(&str, &str)]| {
            Value::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::string(*v)))
                    .collect(),
            )
        };
        let mut ok = base.clone();
        ok.push((
            "secret_parameters_wo",
            secrets(&[("DB_PASSWORD", "hunter2")]),
        ));
        assert!(errors_at(&r, &config(&ok)).is_empty());
        let mut bad = base.clone();
        bad.push((
            "secret_parameters_wo",
            secrets(&[("no/slash", "hunter2"), ("EMPTY", "")]),
        ));
        let mut d = Diagnostics::new();
        r.validate(&config(&bad), &mut d);
        assert_eq!(d.iter().count(), 2);
        assert!(!format!("{:?}", d.iter().collect::<Vec<_>>()).contains("hunter2"));
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
