//! The one create path and the one update path of the compute-group
//! resources (a system's primary group, a query group). A create checks
//! nothing live is taken over, runs under its timeout and StopProvider, then
//! ends in a read, as the AWS provider's Create ends in Read. A create cut
//! short keeps in state what it made, so Terraform taints it and the next
//! apply finishes or replaces it. An update runs the same way and ends in the
//! same read; when the compute group is gone it re-runs the create, which
//! adopts what still exists.

use std::time::Duration;

use async_trait::async_trait;

use super::common::{aws_error, cancellable, is_unknown, writer};
use super::compute;
use super::model::Model;
use crate::aws::{Clients, Lookup};
use crate::plugin::{AttrPath, Ctx, Diagnostics, Value};
use crate::resources::error::OpError;

/// What a resource gives the create path.
#[async_trait]
pub trait Creates: Sync {
    type Model: Model + Clone + Send + Sync;

    /// The attribute a compute group taken by another state is reported on.
    const NAME_ATTR: &'static str;
    /// Why a create fails when its read finds nothing.
    const MISSING_AFTER_CREATE: &'static str;

    /// The object in messages, e.g. `Datomic system (prod)`.
    fn what(&self, planned: &Self::Model) -> String;
    /// The summary when its compute group is taken, e.g. `Datomic system "prod" already exists`.
    fn taken(&self, planned: &Self::Model) -> String;
    /// The system and compute group the resource creates.
    fn compute_group(&self, planned: &Self::Model) -> (String, String);
    /// The create's deadline (`timeouts.create`).
    fn create_timeout(&self, planned: &Self::Model) -> Duration;

    /// Further checks before any write; false when refused (said in `diags`).
    async fn check_before_create(
        &self,
        _c: &Clients,
        _planned: &Self::Model,
        _diags: &mut Diagnostics,
    ) -> bool {
        true
    }

    /// The state a create starts from: the plan.
    fn started(&self, planned: &Self::Model) -> Self::Model {
        planned.clone()
    }

    /// Makes the AWS objects, recording each in `state` as it exists.
    async fn do_create(
        &self,
        c: &Clients,
        ctx: &Ctx<Clients>,
        planned: &Self::Model,
        state: &mut Self::Model,
    ) -> Result<(), OpError>;

    /// Reads the object a state names; None when it does not exist.
    async fn read_model(
        &self,
        c: &Clients,
        state: &Self::Model,
    ) -> Result<Option<Self::Model>, OpError>;

    /// What the state keeps from the plan rather than from AWS (arguments AWS
    /// does not return as written).
    fn keep_planned(&self, read: &mut Self::Model, planned: &Self::Model);
}

/// What an update found.
pub enum Updated {
    /// AWS now matches the plan.
    Done,
    /// The compute group's Auto Scaling group is gone (half made, or deleted
    /// outside Terraform): the update re-runs the create.
    GroupGone,
}

/// What a resource gives the update path, beyond what it gives the create.
#[async_trait]
pub trait Updates: Creates {
    /// The computed attribute a plan leaves unknown when the last read found
    /// the node role changed outside Terraform (the update repairs it).
    const NODE_ROLE_ATTR: &'static str;

    /// The update's deadline (`timeouts.update`).
    fn update_timeout(&self, planned: &Self::Model) -> Duration;

    /// Changes the AWS objects from `prior` to `planned`.
    async fn do_update(
        &self,
        c: &Clients,
        ctx: &Ctx<Clients>,
        prior: &Self::Model,
        planned: &Self::Model,
        repair_role: bool,
    ) -> Result<Updated, OpError>;
}

/// Updates the resource to its plan and reads it back as its state. On
/// failure the prior state stays: what changed is found again by the next
/// refresh.
pub async fn update<R: Updates>(
    r: &R,
    ctx: &Ctx<Clients>,
    prior: &Value,
    planned: &Value,
    diags: &mut Diagnostics,
) -> Value {
    let Some(c) = writer(ctx, diags) else {
        return prior.clone();
    };
    let repair_role = is_unknown(planned, R::NODE_ROLE_ATTR);
    let (prior_m, planned) = (R::Model::from_value(prior), R::Model::from_value(planned));
    let run = async {
        let mut state = r.started(&planned);
        match r.do_update(c, ctx, &prior_m, &planned, repair_role).await? {
            Updated::Done => {}
            Updated::GroupGone => r.do_create(c, ctx, &planned, &mut state).await?,
        }
        r.read_model(c, &state).await
    };
    match cancellable(&ctx.cancel, ("update", r.update_timeout(&planned)), run).await {
        Ok(Some(mut v)) => {
            r.keep_planned(&mut v, &planned);
            v.to_value()
        }
        Ok(None) => prior.clone(),
        Err(e) => {
            aws_error(diags, &format!("updating {}", r.what(&prior_m)), e);
            prior.clone()
        }
    }
}

/// Creates the resource a plan describes and reads it back as its state.
pub async fn create<R: Creates>(
    r: &R,
    ctx: &Ctx<Clients>,
    planned: &Value,
    diags: &mut Diagnostics,
) -> Value {
    let Some(c) = writer(ctx, diags) else {
        return Value::Null;
    };
    let planned = R::Model::from_value(planned);
    let what = r.what(&planned);
    // Before any write: never take over a live compute group of another state.
    let (system, group) = r.compute_group(&planned);
    match compute::check_not_taken(c, &system, &group, Lookup::Apply).await {
        Ok(None) => {}
        Ok(Some(why)) => {
            diags.attribute_error(AttrPath::root(R::NAME_ATTR), r.taken(&planned), why);
            return Value::Null;
        }
        Err(e) => {
            aws_error(diags, &format!("creating {what}"), e);
            return Value::Null;
        }
    }
    if !r.check_before_create(c, &planned, diags).await {
        return Value::Null;
    }
    let mut state = r.started(&planned);
    match cancellable(
        &ctx.cancel,
        ("create", r.create_timeout(&planned)),
        r.do_create(c, ctx, &planned, &mut state),
    )
    .await
    {
        Ok(()) => match r.read_model(c, &state).await {
            Ok(Some(mut v)) => {
                r.keep_planned(&mut v, &planned);
                v.to_value()
            }
            Ok(None) => {
                diags.error(format!("creating {what}"), R::MISSING_AFTER_CREATE);
                state.to_value()
            }
            Err(e) => {
                aws_error(diags, &format!("reading {what} after create"), e);
                state.to_value()
            }
        },
        Err(e) => {
            aws_error(diags, &format!("creating {what}"), e);
            // Keep what exists in state: Terraform taints it and the next
            // apply deletes it (found again by name and tags) and retries.
            // (A model holds no unknowns: written back, they are null.)
            state.to_value()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::plugin::diag::Severity;
    use crate::resources::system::{attr, SystemModel};

    /// What the fake's update does.
    #[derive(Clone, Copy)]
    enum Step {
        Done,
        GroupGone,
        Fails,
        Slow,
    }

    /// What the fake's read finds.
    #[derive(Clone, Copy)]
    enum Read {
        Found,
        Missing,
        Fails,
    }

    /// A resource whose AWS work is made up: it records what the paths ask of it.
    struct Fake {
        update: Step,
        read: Read,
        calls: Mutex<Vec<String>>,
    }

    impl Fake {
        fn new(update: Step, read: Read) -> Self {
            Fake {
                update,
                read,
                calls: Mutex::new(Vec::new()),
            }
        }
        fn call(&self, what: impl Into<String>) {
            self.calls.lock().expect("calls").push(what.into());
        }
        fn calls(&self) -> Vec<String> {
            self.calls.lock().expect("calls").clone()
        }
    }

    #[async_trait]
    impl Creates for Fake {
        type Model = SystemModel;
        const NAME_ATTR: &'static str = attr::NAME;
        const MISSING_AFTER_CREATE: &'static str = "gone after create";

        fn what(&self, planned: &SystemModel) -> String {
            format!("fake ({})", planned.name.as_deref().unwrap_or_default())
        }
        fn taken(&self, _planned: &SystemModel) -> String {
            "taken".into()
        }
        fn compute_group(&self, planned: &SystemModel) -> (String, String) {
            (planned.name.clone().unwrap_or_default(), "primary".into())
        }
        fn create_timeout(&self, _planned: &SystemModel) -> Duration {
            Duration::from_secs(5)
        }
        async fn do_create(
            &self,
            _c: &Clients,
            _ctx: &Ctx<Clients>,
            _planned: &SystemModel,
            state: &mut SystemModel,
        ) -> Result<(), OpError> {
            self.call("create");
            state.image_id = Some("ami-made".into());
            Ok(())
        }
        async fn read_model(
            &self,
            _c: &Clients,
            state: &SystemModel,
        ) -> Result<Option<SystemModel>, OpError> {
            self.call(format!(
                "read image={}",
                state.image_id.as_deref().unwrap_or("-")
            ));
            match self.read {
                Read::Found => {
                    let mut v = state.clone();
                    v.arn = Some("arn:read".into());
                    v.application_name = Some("as-read".into());
                    Ok(Some(v))
                }
                Read::Missing => Ok(None),
                Read::Fails => Err(OpError::Vanished("read failed".into())),
            }
        }
        fn keep_planned(&self, read: &mut SystemModel, planned: &SystemModel) {
            read.application_name = planned.application_name.clone();
        }
    }

    #[async_trait]
    impl Updates for Fake {
        const NODE_ROLE_ATTR: &'static str = attr::NODE_ROLE_NAME;

        fn update_timeout(&self, _planned: &SystemModel) -> Duration {
            Duration::from_millis(200)
        }
        async fn do_update(
            &self,
            _c: &Clients,
            _ctx: &Ctx<Clients>,
            _prior: &SystemModel,
            _planned: &SystemModel,
            repair_role: bool,
        ) -> Result<Updated, OpError> {
            self.call(format!("update repair_role={repair_role}"));
            match self.update {
                Step::Done => Ok(Updated::Done),
                Step::GroupGone => Ok(Updated::GroupGone),
                Step::Fails => Err(OpError::Vanished("update failed".into())),
                Step::Slow => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok(Updated::Done)
                }
            }
        }
    }

    /// Clients that reach nothing: no credentials, so any AWS call fails at once.
    fn ctx() -> Ctx<Clients> {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        Ctx {
            data: Some(Arc::new(Clients::new(
                &sdk,
                &BTreeMap::new(),
                BTreeMap::new(),
            ))),
            cancel: tokio_util::sync::CancellationToken::new(),
        }
    }

    fn model(pairs: &[(&str, Value)]) -> Value {
        let mut m = SystemModel::from_value(&Value::Null).to_value();
        for (k, v) in pairs {
            m.set_attr(k, v.clone());
        }
        m
    }

    fn errors(d: &Diagnostics) -> Vec<String> {
        d.iter()
            .filter(|x| x.severity == Severity::Error)
            .map(|x| x.summary.clone())
            .collect()
    }

    fn prior() -> Value {
        model(&[
            (attr::NAME, Value::string("s")),
            (attr::IMAGE_ID, Value::string("ami-old")),
            (attr::NODE_ROLE_NAME, Value::string("role")),
        ])
    }

    fn planned() -> Value {
        model(&[
            (attr::NAME, Value::string("s")),
            (attr::APPLICATION_NAME, Value::string("as-planned")),
            (attr::NODE_ROLE_NAME, Value::string("role")),
        ])
    }

    #[tokio::test]
    async fn an_update_ends_in_a_read_with_what_the_plan_keeps() {
        let r = Fake::new(Step::Done, Read::Found);
        let mut d = Diagnostics::new();
        let v = update(&r, &ctx(), &prior(), &planned(), &mut d).await;
        assert!(errors(&d).is_empty(), "{:?}", errors(&d));
        assert_eq!(r.calls(), vec!["update repair_role=false", "read image=-"]);
        let v = SystemModel::from_value(&v);
        assert_eq!(v.arn.as_deref(), Some("arn:read"));
        assert_eq!(v.application_name.as_deref(), Some("as-planned"));
    }

    #[tokio::test]
    async fn an_unknown_node_role_asks_the_update_to_repair_it() {
        let r = Fake::new(Step::Done, Read::Found);
        let mut planned = planned();
        planned.set_attr(attr::NODE_ROLE_NAME, Value::Unknown);
        let mut d = Diagnostics::new();
        update(&r, &ctx(), &prior(), &planned, &mut d).await;
        assert_eq!(r.calls()[0], "update repair_role=true");
    }

    #[tokio::test]
    async fn an_update_whose_group_is_gone_creates_it_again() {
        let r = Fake::new(Step::GroupGone, Read::Found);
        let mut d = Diagnostics::new();
        let v = update(&r, &ctx(), &prior(), &planned(), &mut d).await;
        assert!(errors(&d).is_empty(), "{:?}", errors(&d));
        // The read is of what the create made.
        assert_eq!(
            r.calls(),
            vec!["update repair_role=false", "create", "read image=ami-made"]
        );
        assert_eq!(
            SystemModel::from_value(&v).image_id.as_deref(),
            Some("ami-made")
        );
    }

    #[tokio::test]
    async fn an_update_that_fails_or_reads_nothing_keeps_the_prior() {
        for (step, read, error) in [
            (Step::Fails, Read::Found, Some("updating fake (s)")),
            (Step::Done, Read::Fails, Some("updating fake (s)")),
            (Step::Slow, Read::Found, Some("updating fake (s)")),
            (Step::Done, Read::Missing, None),
        ] {
            let r = Fake::new(step, read);
            let mut d = Diagnostics::new();
            let v = update(&r, &ctx(), &prior(), &planned(), &mut d).await;
            assert_eq!(v, prior());
            assert_eq!(
                errors(&d),
                error.map(String::from).into_iter().collect::<Vec<_>>()
            );
        }
    }

    #[tokio::test]
    async fn nothing_is_written_without_a_configured_provider() {
        let unconfigured = Ctx {
            data: None,
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        let r = Fake::new(Step::Done, Read::Found);
        let mut d = Diagnostics::new();
        let v = update(&r, &unconfigured, &prior(), &planned(), &mut d).await;
        assert_eq!(v, prior());
        assert_eq!(errors(&d), vec!["Provider not configured"]);
        let mut d = Diagnostics::new();
        let v = create(&r, &unconfigured, &planned(), &mut d).await;
        assert_eq!(v, Value::Null);
        assert_eq!(errors(&d), vec!["Provider not configured"]);
        assert!(r.calls().is_empty());
    }

    #[tokio::test]
    async fn a_create_that_cannot_check_for_a_live_group_writes_nothing() {
        let r = Fake::new(Step::Done, Read::Found);
        let mut d = Diagnostics::new();
        let v = create(&r, &ctx(), &planned(), &mut d).await;
        assert_eq!(v, Value::Null);
        assert_eq!(errors(&d), vec!["creating fake (s)"]);
        assert!(r.calls().is_empty(), "{:?}", r.calls());
    }
}
