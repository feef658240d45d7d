//! The benchmark's plugin floor: a provider with one resource, `floor_data`, shaped
//! like Terraform's built-in `terraform_data` (id, input, output, triggers_replace),
//! served by this crate's own plugin layer and calling nothing.
//!
//! `terraform_data` runs inside Terraform; any plugin provider also pays Terraform's
//! side of the plugin protocol (starting the plugin for each phase, two or three gRPC
//! calls per resource). `bench/run` plans and refreshes this next to our resources and
//! `terraform_data`, so the report tells that cost apart from ours.
//!
//! A second resource, `floor_query_group`, has `datomic_query_group`'s schema and only
//! the plugin layer's generic planning (no checks, no AWS): planning and refreshing it
//! measure what Terraform spends on a schema of that size, apart from what our resource
//! code adds. Applying it stores the plan, with null for what was unknown.
//!
//! Not shipped: built by `bench/run` with `cargo build --release --example floor-provider`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use terraform_provider_datomic::aws::Clients;
use terraform_provider_datomic::plugin::{
    self, Attribute, Block, Ctx, Diagnostics, Plan, Provider, Resource, Schema, Type, Value,
};
use terraform_provider_datomic::resources::query_group::QueryGroupResource;

/// One resource of the floor: `floor_data` (terraform_data's shape) or
/// `floor_query_group` (our schema); both store what was planned.
struct FloorResource {
    name: &'static str,
    schema: Schema,
}

impl FloorResource {
    fn data() -> Self {
        let block = Block::new("Stores a value, like terraform_data.")
            .attr(Attribute::computed("id", Type::String, "A unique id.").use_state_for_unknown())
            .attr(Attribute::optional("input", Type::Dynamic, "Any value."))
            .attr(Attribute::computed(
                "output",
                Type::Dynamic,
                "`input`, once applied.",
            ))
            .attr(
                Attribute::optional(
                    "triggers_replace",
                    Type::Dynamic,
                    "Replaces the resource when it changes.",
                )
                .requires_replace(),
            );
        FloorResource {
            name: "floor_data",
            schema: Schema::new(0, block),
        }
    }

    /// `datomic_query_group`'s schema, planned generically; nothing else.
    fn query_group() -> Self {
        FloorResource {
            name: "floor_query_group",
            schema: Resource::<Clients>::schema(&QueryGroupResource::new()).clone(),
        }
    }

    /// The planned state made known: a new id, `output` = `input` (floor_data),
    /// and null for any other attribute still unknown (a computed one may be).
    fn applied(planned: &Value) -> Value {
        let mut state = planned.clone();
        if state.get("id").is_some_and(Value::is_unknown) {
            state.set_attr("id", Value::string(unique_id()));
        }
        if let Some(input) = planned.get("input").cloned() {
            state.set_attr("output", input);
        }
        if let Value::Object(attrs) = &mut state {
            for v in attrs.values_mut().filter(|v| v.is_unknown()) {
                *v = Value::Null;
            }
        }
        state
    }
}

fn unique_id() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos:x}-{:x}-{:x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

#[async_trait]
impl Resource<()> for FloorResource {
    fn type_name(&self) -> &'static str {
        self.name
    }
    fn schema(&self) -> &Schema {
        &self.schema
    }
    async fn modify_plan(&self, _ctx: &Ctx<()>, plan: &mut Plan, _diags: &mut Diagnostics) {
        // As terraform_data: `output` follows `input`, known after apply when it changes.
        if plan.planned.get("output").is_some()
            && !plan.is_create()
            && plan.get("input") == plan.prior_get("input")
        {
            let prior = plan.prior_get("output").clone();
            plan.set("output", prior);
        }
    }
    async fn create(&self, _ctx: &Ctx<()>, planned: &Value, _diags: &mut Diagnostics) -> Value {
        Self::applied(planned)
    }
    async fn read(&self, _ctx: &Ctx<()>, state: &Value, _diags: &mut Diagnostics) -> Value {
        state.clone()
    }
    async fn update(
        &self,
        _ctx: &Ctx<()>,
        _prior: &Value,
        planned: &Value,
        _diags: &mut Diagnostics,
    ) -> Value {
        Self::applied(planned)
    }
    async fn delete(&self, _ctx: &Ctx<()>, _prior: &Value, _diags: &mut Diagnostics) {}
}

struct Floor {
    schema: Schema,
}

#[async_trait]
impl Provider for Floor {
    type Data = ();
    fn schema(&self) -> &Schema {
        &self.schema
    }
    fn resources(&self) -> Vec<Arc<dyn Resource<()>>> {
        vec![
            Arc::new(FloorResource::data()),
            Arc::new(FloorResource::query_group()),
        ]
    }
    async fn configure(&self, _tf: &str, _config: &Value, _diags: &mut Diagnostics) -> Option<()> {
        Some(())
    }
}

fn main() -> std::process::ExitCode {
    let _ = plugin::tls::crypto_provider();
    let floor = Floor {
        schema: Schema::new(0, Block::new("The benchmark's plugin floor.")),
    };
    let served = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(plugin::serve::serve(floor))
                .map_err(|e| e.to_string())
        });
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor-provider: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
