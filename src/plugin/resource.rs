//! The traits a provider implements. Only framework-native types appear here:
//! the server converts protocol messages to and from them.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::diag::Diagnostics;
use super::schema::Schema;
use super::upgrade::StateUpgrader;
use super::value::{Type, Value};

/// What every call of resource code gets: the configured provider data (None
/// while the provider configuration is unknown, e.g. during a plan whose
/// region comes from another resource) and a token cancelled by StopProvider.
pub struct Ctx<D> {
    pub data: Option<Arc<D>>,
    pub cancel: CancellationToken,
}

impl<D> Ctx<D> {
    /// The configured provider data, or an error diagnostic saying why not.
    pub fn data(&self, diags: &mut Diagnostics) -> Option<&D> {
        if self.data.is_none() {
            diags.error(
                "Provider not configured",
                "The provider configuration is unknown or failed, so this operation cannot reach AWS yet.",
            );
        }
        self.data.as_deref()
    }
}

/// The plan under construction for one resource instance.
pub struct Plan {
    /// Prior state; `Value::Null` for a create.
    pub prior: Value,
    /// The configuration as written (unknown where it depends on other resources).
    pub config: Value,
    /// The planned new state; resources may refine it.
    pub planned: Value,
    /// Attributes whose change replaces the object (top-level names).
    pub requires_replace: Vec<String>,
    /// Attributes the resource recomputes in place (see
    /// [`Plan::recompute_in_place`]): their RequiresReplace does not apply.
    pub in_place: Vec<String>,
}

impl Plan {
    pub fn is_create(&self) -> bool {
        self.prior.is_null()
    }
    /// Whether the configuration sets `attr` (known or unknown, not null).
    pub fn config_sets(&self, attr: &str) -> bool {
        self.config.get(attr).is_some_and(|v| !v.is_null())
    }
    pub fn set(&mut self, attr: &str, v: Value) {
        self.planned.set_attr(attr, v);
    }
    pub fn get(&self, attr: &str) -> &Value {
        self.planned.get(attr).unwrap_or(&Value::Null)
    }
    pub fn prior_get(&self, attr: &str) -> &Value {
        self.prior.get(attr).unwrap_or(&Value::Null)
    }
    /// Leaves a computed attribute unknown for the apply to recompute in
    /// place: a change the provider makes, not one that replaces the object.
    pub fn recompute_in_place(&mut self, attr: &str) {
        self.set(attr, Value::Unknown);
        if !self.in_place.iter().any(|a| a == attr) {
            self.in_place.push(attr.to_string());
        }
    }
    pub fn replace_if_changed(&mut self, attr: &str) {
        if self.in_place.iter().any(|a| a == attr) {
            return;
        }
        if !self.is_create() && self.get(attr) != self.prior_get(attr) {
            self.force_replace(attr);
        }
    }
    pub fn force_replace(&mut self, attr: &str) {
        if !self.requires_replace.iter().any(|a| a == attr) {
            self.requires_replace.push(attr.to_string());
        }
    }
}

#[async_trait]
pub trait Resource<D: Send + Sync + 'static>: Send + Sync {
    fn type_name(&self) -> &'static str;
    /// Built once; the server converts and caches it.
    fn schema(&self) -> &Schema;

    /// Static checks of a configuration (no AWS): ValidateResourceConfig.
    /// Unknown values must be skipped.
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// Called after the generic planning (defaults, unknown computed values,
    /// UseStateForUnknown, RequiresReplace) for creates and updates.
    async fn modify_plan(&self, _ctx: &Ctx<D>, _plan: &mut Plan, _diags: &mut Diagnostics) {}

    /// Called when Terraform plans to destroy an existing object.
    async fn plan_destroy(&self, _ctx: &Ctx<D>, _prior: &Value, _diags: &mut Diagnostics) {}

    /// Creates the object. Returns the new state; when it fails half-way it
    /// returns what exists (at least the id) with an error, so that Terraform
    /// keeps track of it and taints it; `Value::Null` when nothing was made.
    async fn create(&self, ctx: &Ctx<D>, planned: &Value, diags: &mut Diagnostics) -> Value;

    /// Reads the object; `Value::Null` when it no longer exists.
    async fn read(&self, ctx: &Ctx<D>, state: &Value, diags: &mut Diagnostics) -> Value;

    async fn update(
        &self,
        ctx: &Ctx<D>,
        prior: &Value,
        planned: &Value,
        diags: &mut Diagnostics,
    ) -> Value;

    /// Deletes the object; an object already gone counts as deleted.
    async fn delete(&self, ctx: &Ctx<D>, prior: &Value, diags: &mut Diagnostics);

    /// How to upgrade a state written under an older schema version: one
    /// upgrader per prior version, each straight to the current schema (as
    /// the framework's `ResourceWithUpgradeState`). A stored state at a
    /// version missing here is refused with an error. See `plugin::upgrade`.
    fn state_upgraders(&self) -> BTreeMap<i64, StateUpgrader> {
        BTreeMap::new()
    }

    /// Turns an import id into a state that `read` can complete. The default
    /// sets `id` and leaves every other attribute null.
    async fn import(&self, _ctx: &Ctx<D>, id: &str, _diags: &mut Diagnostics) -> Value {
        let mut v = Value::null_object(&self.schema().ty());
        v.set_attr("id", Value::string(id));
        v
    }
}

#[async_trait]
pub trait DataSource<D: Send + Sync + 'static>: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> &Schema;
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}
    async fn read(&self, ctx: &Ctx<D>, config: &Value, diags: &mut Diagnostics) -> Value;
}

/// A provider-defined function (Terraform >= 1.8).
pub struct FunctionSignature {
    pub summary: String,
    pub description: String,
    pub params: Vec<(&'static str, Type, &'static str)>,
    pub ret: Type,
}

/// A function failure, optionally blaming one argument.
#[derive(Debug, Clone)]
pub struct FunctionError {
    pub text: String,
    pub argument: Option<i64>,
}

pub trait Function: Send + Sync {
    fn name(&self) -> &'static str;
    fn signature(&self) -> &FunctionSignature;
    fn call(&self, args: &[Value]) -> Result<Value, FunctionError>;
}

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// What `configure` builds and resources receive (e.g. API clients).
    type Data: Send + Sync + 'static;

    fn schema(&self) -> &Schema;
    fn resources(&self) -> Vec<Arc<dyn Resource<Self::Data>>>;
    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Self::Data>>> {
        Vec::new()
    }
    fn functions(&self) -> Vec<Arc<dyn Function>> {
        Vec::new()
    }
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}
    /// Builds the provider data. `None` with no error means "not yet": the
    /// configuration is not wholly known (plan before its inputs exist).
    async fn configure(
        &self,
        terraform_version: &str,
        config: &Value,
        diags: &mut Diagnostics,
    ) -> Option<Self::Data>;
}
