//! The one create path of the compute-group resources (a system's primary
//! group, a query group): check nothing live is taken over, run the create
//! under its timeout and StopProvider, then end in a read, as the AWS
//! provider's Create ends in Read. A create cut short keeps in state what it
//! made, so Terraform taints it and the next apply finishes or replaces it.

use crate::resources::error::OpError;
use std::time::Duration;

use async_trait::async_trait;

use super::common::{aws_error, cancellable, writer};
use super::compute;
use super::model::Model;
use crate::aws::{Clients, Lookup};
use crate::plugin::{AttrPath, Ctx, Diagnostics, Value};

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
