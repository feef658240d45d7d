//! The gRPC Provider service: one function per RPC, each of the same shape
//! (log, decode, dispatch to the `Provider`/`Resource` traits, encode).
//! Problems a user can fix become diagnostics; gRPC statuses are for faults
//! of the protocol itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::convert::{self, diagnostics_to_proto, from_dynamic, to_dynamic};
use super::diag::Diagnostics;
use super::log;
use super::plan;
use super::proto::tfplugin6 as pb;
use super::resource::{Ctx, DataSource, Function, Provider, Resource};
use super::upgrade;
use super::value::{CodecError, Type, Value};
use super::write_only;

type RpcResult<T> = Result<Response<T>, Status>;

struct ResourceEntry<D: Send + Sync + 'static> {
    imp: Arc<dyn Resource<D>>,
    ty: Type,
}

struct DataSourceEntry<D: Send + Sync + 'static> {
    imp: Arc<dyn DataSource<D>>,
    ty: Type,
}

pub struct ProviderService<P: Provider> {
    provider: Arc<P>,
    provider_ty: Type,
    resources: HashMap<&'static str, ResourceEntry<P::Data>>,
    data_sources: HashMap<&'static str, DataSourceEntry<P::Data>>,
    functions: HashMap<&'static str, Arc<dyn Function>>,
    /// Built once at start-up: Terraform asks for it several times per command.
    schema_response: pb::get_provider_schema::Response,
    data: RwLock<Option<Arc<P::Data>>>,
    stop: Mutex<CancellationToken>,
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: true,
        move_resource_state: false,
    }
}

fn codec_diag(diags: &mut Diagnostics, what: &str, e: &CodecError) {
    diags.error(
        format!("Invalid {what} received from Terraform"),
        format!("The provider could not decode the {what}: {e}. This is a bug in the provider or an incompatible Terraform version."),
    );
}

fn unknown_type(diags: &mut Diagnostics, kind: &str, name: &str) {
    diags.error(
        format!("Unknown {kind} type"),
        format!("This provider has no {kind} type named {name:?}."),
    );
}

impl<P: Provider> ProviderService<P> {
    pub fn new(provider: P) -> Self {
        let provider = Arc::new(provider);
        let mut schema_response = pb::get_provider_schema::Response {
            provider: Some(convert::schema_to_proto(provider.schema())),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        };
        let mut resources = HashMap::new();
        for r in provider.resources() {
            schema_response.resource_schemas.insert(
                r.type_name().to_string(),
                convert::schema_to_proto(r.schema()),
            );
            write_only::warn_misuses(r.type_name(), r.schema());
            let ty = r.schema().ty();
            resources.insert(r.type_name(), ResourceEntry { imp: r, ty });
        }
        let mut data_sources = HashMap::new();
        for d in provider.data_sources() {
            schema_response.data_source_schemas.insert(
                d.type_name().to_string(),
                convert::schema_to_proto(d.schema()),
            );
            let ty = d.schema().ty();
            data_sources.insert(d.type_name(), DataSourceEntry { imp: d, ty });
        }
        let mut functions = HashMap::new();
        for f in provider.functions() {
            schema_response.functions.insert(
                f.name().to_string(),
                convert::function_to_proto(f.signature()),
            );
            functions.insert(f.name(), f);
        }
        let provider_ty = provider.schema().ty();
        ProviderService {
            provider,
            provider_ty,
            resources,
            data_sources,
            functions,
            schema_response,
            data: RwLock::new(None),
            stop: Mutex::new(CancellationToken::new()),
        }
    }

    fn ctx(&self) -> Ctx<P::Data> {
        let data = self.data.read().map(|d| d.clone()).unwrap_or(None);
        let cancel = self
            .stop
            .lock()
            .map(|t| t.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        Ctx { data, cancel }
    }

    fn resource(&self, name: &str, diags: &mut Diagnostics) -> Option<&ResourceEntry<P::Data>> {
        let r = self.resources.get(name);
        if r.is_none() {
            unknown_type(diags, "resource", name);
        }
        r
    }

    /// Encodes a state value; an encoding failure becomes a diagnostic.
    fn encode(v: &Value, ty: &Type, diags: &mut Diagnostics) -> Option<pb::DynamicValue> {
        match to_dynamic(v, ty) {
            Ok(d) => Some(d),
            Err(e) => {
                diags.error(
                    "Failed to encode a value for Terraform",
                    format!("The provider produced a value that does not fit its schema: {e}. This is a bug in the provider."),
                );
                None
            }
        }
    }
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderService<P> {
    async fn get_metadata(
        &self,
        _req: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        log::trace("served GetMetadata", &[]);
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            diagnostics: vec![],
            data_sources: self
                .data_sources
                .keys()
                .map(|k| pb::get_metadata::DataSourceMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            resources: self
                .resources
                .keys()
                .map(|k| pb::get_metadata::ResourceMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            functions: self
                .functions
                .keys()
                .map(|k| pb::get_metadata::FunctionMetadata {
                    name: k.to_string(),
                })
                .collect(),
            ephemeral_resources: vec![],
        }))
    }

    async fn get_provider_schema(
        &self,
        _req: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        log::trace("served GetProviderSchema", &[]);
        Ok(Response::new(self.schema_response.clone()))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> RpcResult<pb::validate_provider_config::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        match from_dynamic(req.config.as_ref(), &self.provider_ty) {
            Ok(config) => self.provider.validate(&config, &mut diags),
            Err(e) => codec_diag(&mut diags, "provider configuration", &e),
        }
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: diagnostics_to_proto(&diags),
        }))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> RpcResult<pb::validate_resource_config::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        if let Some(r) = self.resource(&req.type_name, &mut diags) {
            match from_dynamic(req.config.as_ref(), &r.ty) {
                Ok(config) => {
                    let allowed = req
                        .client_capabilities
                        .as_ref()
                        .is_some_and(|c| c.write_only_attributes_allowed);
                    write_only::check_allowed(r.imp.schema(), &config, allowed, &mut diags);
                    r.imp.validate(&config, &mut diags);
                }
                Err(e) => codec_diag(&mut diags, "resource configuration", &e),
            }
        }
        log::debug(
            "validated resource configuration",
            &[("tf_resource_type", &req.type_name)],
        );
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: diagnostics_to_proto(&diags),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> RpcResult<pb::validate_data_resource_config::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        match self.data_sources.get(req.type_name.as_str()) {
            Some(d) => match from_dynamic(req.config.as_ref(), &d.ty) {
                Ok(config) => d.imp.validate(&config, &mut diags),
                Err(e) => codec_diag(&mut diags, "data source configuration", &e),
            },
            None => unknown_type(&mut diags, "data source", &req.type_name),
        }
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: diagnostics_to_proto(&diags),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let mut upgraded = None;
        if let Some(r) = self.resource(&req.type_name, &mut diags) {
            let raw = req
                .raw_state
                .as_ref()
                .map(|s| s.json.as_slice())
                .unwrap_or(&[]);
            let schema = r.imp.schema();
            let upgraders = r.imp.state_upgraders();
            if let Some(mut v) = upgrade::upgrade_state(
                &req.type_name,
                schema,
                &upgraders,
                req.version,
                raw,
                &mut diags,
            ) {
                write_only::null_in(schema, &mut v);
                upgraded = Self::encode(&v, &r.ty, &mut diags);
            }
        }
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state: upgraded,
            diagnostics: diagnostics_to_proto(&diags),
        }))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> RpcResult<pb::configure_provider::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        match from_dynamic(req.config.as_ref(), &self.provider_ty) {
            Ok(config) => {
                let data = self
                    .provider
                    .configure(&req.terraform_version, &config, &mut diags)
                    .await;
                if let Ok(mut slot) = self.data.write() {
                    *slot = data.map(Arc::new);
                }
            }
            Err(e) => codec_diag(&mut diags, "provider configuration", &e),
        }
        log::debug(
            "configured provider",
            &[("terraform_version", &req.terraform_version)],
        );
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diagnostics_to_proto(&diags),
        }))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let mut new_state = None;
        if let Some(r) = self.resource(&req.type_name, &mut diags) {
            match from_dynamic(req.current_state.as_ref(), &r.ty) {
                Ok(state) if state.is_null() => {
                    new_state = Self::encode(&Value::Null, &r.ty, &mut diags)
                }
                Ok(state) => {
                    let v = r.imp.read(&self.ctx(), &state, &mut diags).await;
                    // On a failed read keep the prior state: never lose track of an object.
                    let mut v = if diags.has_error() && v.is_null() {
                        state
                    } else {
                        v
                    };
                    write_only::null_in(r.imp.schema(), &mut v);
                    new_state = Self::encode(&v, &r.ty, &mut diags);
                }
                Err(e) => codec_diag(&mut diags, "resource state", &e),
            }
        }
        Ok(Response::new(pb::read_resource::Response {
            new_state,
            diagnostics: diagnostics_to_proto(&diags),
            private: req.private,
            deferred: None,
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let mut resp = pb::plan_resource_change::Response {
            planned_private: req.prior_private.clone(),
            ..Default::default()
        };
        let Some(r) = self.resource(&req.type_name, &mut diags) else {
            resp.diagnostics = diagnostics_to_proto(&diags);
            return Ok(Response::new(resp));
        };
        let decoded = (|| {
            Ok::<_, CodecError>((
                from_dynamic(req.prior_state.as_ref(), &r.ty)?,
                from_dynamic(req.proposed_new_state.as_ref(), &r.ty)?,
                from_dynamic(req.config.as_ref(), &r.ty)?,
            ))
        })();
        match decoded {
            Err(e) => codec_diag(&mut diags, "plan request", &e),
            Ok((prior, proposed, _)) if proposed.is_null() => {
                if !prior.is_null() {
                    r.imp.plan_destroy(&self.ctx(), &prior, &mut diags).await;
                }
                resp.planned_state = Self::encode(&Value::Null, &r.ty, &mut diags);
            }
            Ok((prior, mut proposed, config)) => {
                let schema = r.imp.schema();
                // Write-only values are never planned (resources read them
                // from `Plan::config`); a configured one is no change.
                write_only::null_in(schema, &mut proposed);
                let mut p = plan::plan_change(schema, &prior, &proposed, &config);
                r.imp.modify_plan(&self.ctx(), &mut p, &mut diags).await;
                plan::apply_requires_replace(schema, &mut p);
                write_only::null_in(schema, &mut p.planned);
                resp.requires_replace = p
                    .requires_replace
                    .iter()
                    .map(|a| convert::path_to_proto(&super::diag::AttrPath::root(a)))
                    .collect();
                resp.planned_state = Self::encode(&p.planned, &r.ty, &mut diags);
            }
        }
        log::debug(
            "planned resource change",
            &[("tf_resource_type", &req.type_name)],
        );
        resp.diagnostics = diagnostics_to_proto(&diags);
        Ok(Response::new(resp))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let mut resp = pb::apply_resource_change::Response {
            private: req.planned_private.clone(),
            ..Default::default()
        };
        let Some(r) = self.resource(&req.type_name, &mut diags) else {
            resp.diagnostics = diagnostics_to_proto(&diags);
            return Ok(Response::new(resp));
        };
        let decoded = (|| {
            Ok::<_, CodecError>((
                from_dynamic(req.prior_state.as_ref(), &r.ty)?,
                from_dynamic(req.planned_state.as_ref(), &r.ty)?,
                from_dynamic(req.config.as_ref(), &r.ty)?,
            ))
        })();
        let ctx = self.ctx();
        let schema = r.imp.schema();
        let new_state = match decoded {
            Err(e) => {
                codec_diag(&mut diags, "apply request", &e);
                None
            }
            Ok((prior, planned, _)) if planned.is_null() => {
                log::info("deleting", &[("tf_resource_type", &req.type_name)]);
                r.imp.delete(&ctx, &prior, &mut diags).await;
                // A failed delete keeps the object in state.
                Some(if diags.has_error() {
                    prior
                } else {
                    Value::Null
                })
            }
            Ok((prior, mut planned, config)) if prior.is_null() => {
                log::info("creating", &[("tf_resource_type", &req.type_name)]);
                write_only::from_config(schema, &mut planned, &config);
                let v = r.imp.create(&ctx, &planned, &mut diags).await;
                if v.is_null() && !diags.has_error() {
                    diags.error(
                        "Missing resource state after create",
                        "The provider created the object but returned no state. This is a bug in the provider.",
                    );
                }
                Some(v)
            }
            Ok((prior, mut planned, config)) => {
                log::info("updating", &[("tf_resource_type", &req.type_name)]);
                write_only::from_config(schema, &mut planned, &config);
                let v = r.imp.update(&ctx, &prior, &planned, &mut diags).await;
                Some(if v.is_null() { prior } else { v })
            }
        };
        if let Some(mut v) = new_state {
            write_only::null_in(schema, &mut v);
            resp.new_state = Self::encode(&v, &r.ty, &mut diags);
        }
        resp.diagnostics = diagnostics_to_proto(&diags);
        Ok(Response::new(resp))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let mut imported = vec![];
        if let Some(r) = self.resource(&req.type_name, &mut diags) {
            let ctx = self.ctx();
            let state = r.imp.import(&ctx, &req.id, &mut diags).await;
            if !diags.has_error() {
                let mut state = r.imp.read(&ctx, &state, &mut diags).await;
                write_only::null_in(r.imp.schema(), &mut state);
                if state.is_null() && !diags.has_error() {
                    diags.error(
                        "Cannot import non-existent remote object",
                        format!(
                            "While attempting to import an existing object to {:?}, the provider detected that no object exists with the given id {:?}. Only pre-existing objects can be imported; check that the id is correct and that it is associated with the provider's configured region or endpoint, or use \"terraform apply\" to create a new remote object for this resource.",
                            req.type_name, req.id
                        ),
                    );
                } else if !diags.has_error() {
                    if let Some(s) = Self::encode(&state, &r.ty, &mut diags) {
                        imported.push(pb::import_resource_state::ImportedResource {
                            type_name: req.type_name.clone(),
                            state: Some(s),
                            private: vec![],
                        });
                    }
                }
            }
        }
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: imported,
            diagnostics: diagnostics_to_proto(&diags),
            deferred: None,
        }))
    }

    async fn move_resource_state(
        &self,
        req: Request<pb::move_resource_state::Request>,
    ) -> RpcResult<pb::move_resource_state::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        diags.error(
            "Move resource state not supported",
            format!(
                "The provider does not support moving state from {:?} ({}) to {:?}. Use `terraform state rm` and an import instead.",
                req.source_type_name, req.source_provider_address, req.target_type_name
            ),
        );
        Ok(Response::new(pb::move_resource_state::Response {
            target_state: None,
            diagnostics: diagnostics_to_proto(&diags),
            target_private: vec![],
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> RpcResult<pb::read_data_source::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let mut state = None;
        match self.data_sources.get(req.type_name.as_str()) {
            Some(d) => match from_dynamic(req.config.as_ref(), &d.ty) {
                Ok(config) => {
                    let v = d.imp.read(&self.ctx(), &config, &mut diags).await;
                    if !diags.has_error() {
                        state = Self::encode(&v, &d.ty, &mut diags);
                    }
                }
                Err(e) => codec_diag(&mut diags, "data source configuration", &e),
            },
            None => unknown_type(&mut diags, "data source", &req.type_name),
        }
        Ok(Response::new(pb::read_data_source::Response {
            state,
            diagnostics: diagnostics_to_proto(&diags),
            deferred: None,
        }))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> RpcResult<pb::validate_ephemeral_resource_config::Response> {
        let mut diags = Diagnostics::new();
        unknown_type(
            &mut diags,
            "ephemeral resource",
            &req.into_inner().type_name,
        );
        Ok(Response::new(
            pb::validate_ephemeral_resource_config::Response {
                diagnostics: diagnostics_to_proto(&diags),
            },
        ))
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> RpcResult<pb::open_ephemeral_resource::Response> {
        let mut diags = Diagnostics::new();
        unknown_type(
            &mut diags,
            "ephemeral resource",
            &req.into_inner().type_name,
        );
        Ok(Response::new(pb::open_ephemeral_resource::Response {
            diagnostics: diagnostics_to_proto(&diags),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> RpcResult<pb::renew_ephemeral_resource::Response> {
        let mut diags = Diagnostics::new();
        unknown_type(
            &mut diags,
            "ephemeral resource",
            &req.into_inner().type_name,
        );
        Ok(Response::new(pb::renew_ephemeral_resource::Response {
            diagnostics: diagnostics_to_proto(&diags),
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        req: Request<pb::close_ephemeral_resource::Request>,
    ) -> RpcResult<pb::close_ephemeral_resource::Response> {
        let mut diags = Diagnostics::new();
        unknown_type(
            &mut diags,
            "ephemeral resource",
            &req.into_inner().type_name,
        );
        Ok(Response::new(pb::close_ephemeral_resource::Response {
            diagnostics: diagnostics_to_proto(&diags),
        }))
    }

    async fn get_functions(
        &self,
        _req: Request<pb::get_functions::Request>,
    ) -> RpcResult<pb::get_functions::Response> {
        Ok(Response::new(pb::get_functions::Response {
            functions: self.schema_response.functions.clone(),
            diagnostics: vec![],
        }))
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> RpcResult<pb::call_function::Response> {
        let req = req.into_inner();
        let fail = |text: String, argument: Option<i64>| {
            Ok(Response::new(pb::call_function::Response {
                result: None,
                error: Some(pb::FunctionError {
                    text,
                    function_argument: argument,
                }),
            }))
        };
        let Some(f) = self.functions.get(req.name.as_str()) else {
            return fail(
                format!("This provider has no function named {:?}.", req.name),
                None,
            );
        };
        let sig = f.signature();
        if req.arguments.len() != sig.params.len() {
            return fail(
                format!(
                    "{} takes {} argument(s), {} given.",
                    req.name,
                    sig.params.len(),
                    req.arguments.len()
                ),
                None,
            );
        }
        let mut args = Vec::with_capacity(sig.params.len());
        for (i, (dv, (_, ty, _))) in req.arguments.iter().zip(&sig.params).enumerate() {
            match from_dynamic(Some(dv), ty) {
                Ok(v) => args.push(v),
                Err(e) => {
                    return fail(format!("Invalid argument: {e}"), i64::try_from(i).ok());
                }
            }
        }
        match f.call(&args) {
            Ok(v) => match to_dynamic(&v, &sig.ret) {
                Ok(result) => Ok(Response::new(pb::call_function::Response {
                    result: Some(result),
                    error: None,
                })),
                Err(e) => fail(
                    format!("The function produced an invalid result: {e}"),
                    None,
                ),
            },
            Err(e) => fail(e.text, e.argument),
        }
    }

    async fn stop_provider(
        &self,
        _req: Request<pb::stop_provider::Request>,
    ) -> RpcResult<pb::stop_provider::Response> {
        log::info("StopProvider received: cancelling work in progress", &[]);
        if let Ok(mut t) = self.stop.lock() {
            t.cancel();
            *t = CancellationToken::new();
        }
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
