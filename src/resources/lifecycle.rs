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
