//! The Provider service driven RPC by RPC with a test-only resource: write-only
//! attributes and state upgraders, as Terraform sees them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tonic::Request;

use super::*;
use crate::plugin::diag::Diagnostics;
use crate::plugin::proto::tfplugin6::provider_server::Provider as _;
use crate::plugin::schema::{Attribute, Block, Schema};
use crate::plugin::upgrade::StateUpgrader;

/// `test_thing`, schema version 1: version 0 called `name` `title`.
struct Thing {
    schema: Schema,
    /// The values create and update were handed.
    seen: Mutex<Vec<Value>>,
}

impl Thing {
    fn new() -> Self {
        Thing {
            schema: Schema::new(
                1,
                Block::new("A test thing.")
                    .attr(Attribute::computed("id", Type::String, "Id.").use_state_for_unknown())
                    .attr(Attribute::required("name", Type::String, "Name."))
                    .attr(
                        Attribute::optional("password_wo", Type::String, "Password.").write_only(),
                    )
                    .attr(Attribute::write_only_version(
                        "password_wo_version",
                        "password_wo",
                    )),
            ),
            seen: Mutex::new(Vec::new()),
        }
    }

    fn seen(&self) -> Vec<Value> {
        self.seen.lock().expect("lock").clone()
    }
}

fn from_v0(raw: &serde_json::Value, diags: &mut Diagnostics) -> Value {
    let mut obj = raw.as_object().cloned().unwrap_or_default();
    if let Some(title) = obj.remove("title") {
        obj.insert("name".into(), title);
    }
    let bytes = serde_json::Value::Object(obj).to_string();
    match crate::plugin::value::decode_json(bytes.as_bytes(), &Thing::new().schema.ty()) {
        Ok(v) => v,
        Err(e) => {
            diags.error("Invalid version 0 state", e.to_string());
            Value::Null
        }
    }
}

#[async_trait]
impl Resource<()> for Thing {
    fn type_name(&self) -> &'static str {
        "test_thing"
    }
    fn schema(&self) -> &Schema {
        &self.schema
    }
    async fn create(&self, _ctx: &Ctx<()>, planned: &Value, _diags: &mut Diagnostics) -> Value {
        self.seen.lock().expect("lock").push(planned.clone());
        let mut v = planned.clone();
        v.set_attr("id", Value::string("t-1"));
        v
    }
    async fn read(&self, _ctx: &Ctx<()>, state: &Value, _diags: &mut Diagnostics) -> Value {
        // A careless read that echoes a secret: the server must still drop it.
        let mut v = state.clone();
        v.set_attr("password_wo", Value::string("leaked"));
        if v.get("name").is_none_or(Value::is_null) {
            v.set_attr("name", Value::string("imported"));
        }
        v
    }
    async fn update(
        &self,
        _ctx: &Ctx<()>,
        _prior: &Value,
        planned: &Value,
        _diags: &mut Diagnostics,
    ) -> Value {
        self.seen.lock().expect("lock").push(planned.clone());
        planned.clone()
    }
    async fn delete(&self, _ctx: &Ctx<()>, _prior: &Value, _diags: &mut Diagnostics) {}
    fn state_upgraders(&self) -> BTreeMap<i64, StateUpgrader> {
        BTreeMap::from([(0, from_v0 as StateUpgrader)])
    }
}

struct TestProvider {
    thing: Arc<Thing>,
    schema: Schema,
}

#[async_trait]
impl Provider for TestProvider {
    type Data = ();
    fn schema(&self) -> &Schema {
        &self.schema
    }
    fn resources(&self) -> Vec<Arc<dyn Resource<()>>> {
        vec![self.thing.clone()]
    }
    async fn configure(&self, _tf: &str, _config: &Value, _diags: &mut Diagnostics) -> Option<()> {
        Some(())
    }
}

fn service() -> (ProviderService<TestProvider>, Arc<Thing>, Type) {
    let thing = Arc::new(Thing::new());
    let ty = thing.schema.ty();
    let provider = TestProvider {
        thing: thing.clone(),
        schema: Schema::new(0, Block::new("p")),
    };
    (ProviderService::new(provider), thing, ty)
}

fn obj(ty: &Type, pairs: &[(&str, Value)]) -> Value {
    let mut v = Value::null_object(ty);
    for (k, x) in pairs {
        v.set_attr(k, x.clone());
    }
    v
}

fn dv(v: &Value, ty: &Type) -> Option<pb::DynamicValue> {
    Some(to_dynamic(v, ty).expect("encode"))
}

fn decode(d: Option<pb::DynamicValue>, ty: &Type) -> Value {
    from_dynamic(d.as_ref(), ty).expect("decode")
}

fn errors(d: &[pb::Diagnostic]) -> Vec<String> {
    d.iter()
        .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
        .map(|d| format!("{}: {}", d.summary, d.detail))
        .collect()
}

#[tokio::test]
async fn the_schema_marks_write_only_attributes() {
    let (svc, _, _) = service();
    let resp = svc
        .get_provider_schema(Request::new(Default::default()))
        .await
        .expect("rpc")
        .into_inner();
    let block = resp.resource_schemas["test_thing"]
        .block
        .clone()
        .expect("block");
    let flag = |n: &str| {
        block
            .attributes
            .iter()
            .find(|a| a.name == n)
            .map(|a| a.write_only)
    };
    assert_eq!(flag("password_wo"), Some(true));
    assert_eq!(flag("password_wo_version"), Some(false));
    assert_eq!(flag("name"), Some(false));
}

#[tokio::test]
async fn write_only_values_are_never_planned_and_configuring_one_is_no_change() {
    let (svc, _, ty) = service();
    let secret = Value::string("s3cret");
    // Create: Terraform proposes the configuration, secret included.
    let config = obj(
        &ty,
        &[
            ("name", Value::string("a")),
            ("password_wo", secret.clone()),
            ("password_wo_version", Value::int(1)),
        ],
    );
    let resp = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "test_thing".into(),
            prior_state: dv(&Value::Null, &ty),
            proposed_new_state: dv(&config, &ty),
            config: dv(&config, &ty),
            ..Default::default()
        }))
        .await
        .expect("rpc")
        .into_inner();
    assert!(
        errors(&resp.diagnostics).is_empty(),
        "{:?}",
        resp.diagnostics
    );
    let planned = decode(resp.planned_state, &ty);
    assert_eq!(planned.get("password_wo"), Some(&Value::Null));
    assert_eq!(planned.get("id"), Some(&Value::Unknown));
    assert_eq!(planned.get("password_wo_version"), Some(&Value::int(1)));

    // Update with the same version: the secret in the configuration is no change.
    let prior = obj(
        &ty,
        &[
            ("id", Value::string("t-1")),
            ("name", Value::string("a")),
            ("password_wo_version", Value::int(1)),
        ],
    );
    let mut proposed = config.clone();
    proposed.set_attr("id", Value::string("t-1"));
    let resp = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "test_thing".into(),
            prior_state: dv(&prior, &ty),
            proposed_new_state: dv(&proposed, &ty),
            config: dv(&config, &ty),
            ..Default::default()
        }))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(decode(resp.planned_state, &ty), prior);
}

#[tokio::test]
async fn create_and_update_see_the_secret_and_the_state_never_holds_it() {
    let (svc, thing, ty) = service();
    let secret = Value::string("s3cret");
    let config = obj(
        &ty,
        &[
            ("name", Value::string("a")),
            ("password_wo", secret.clone()),
            ("password_wo_version", Value::int(1)),
        ],
    );
    let planned = obj(
        &ty,
        &[
            ("id", Value::Unknown),
            ("name", Value::string("a")),
            ("password_wo_version", Value::int(1)),
        ],
    );
    let resp = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: "test_thing".into(),
            prior_state: dv(&Value::Null, &ty),
            planned_state: dv(&planned, &ty),
            config: dv(&config, &ty),
            ..Default::default()
        }))
        .await
        .expect("rpc")
        .into_inner();
    assert!(
        errors(&resp.diagnostics).is_empty(),
        "{:?}",
        resp.diagnostics
    );
    let state = decode(resp.new_state, &ty);
    assert_eq!(state.get("password_wo"), Some(&Value::Null));
    assert_eq!(state.get("id"), Some(&Value::string("t-1")));

    // The version changes: an update, which sees the new secret.
    let new_secret = Value::string("n3w");
    let mut config2 = config.clone();
    config2.set_attr("password_wo", new_secret.clone());
    config2.set_attr("password_wo_version", Value::int(2));
    let mut planned2 = state.clone();
    planned2.set_attr("password_wo_version", Value::int(2));
    let resp = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: "test_thing".into(),
            prior_state: dv(&state, &ty),
            planned_state: dv(&planned2, &ty),
            config: dv(&config2, &ty),
            ..Default::default()
        }))
        .await
        .expect("rpc")
        .into_inner();
    assert!(
        errors(&resp.diagnostics).is_empty(),
        "{:?}",
        resp.diagnostics
    );
    assert_eq!(
        decode(resp.new_state, &ty).get("password_wo"),
        Some(&Value::Null)
    );

    let seen = thing.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].get("password_wo"), Some(&secret));
    assert_eq!(seen[1].get("password_wo"), Some(&new_secret));
}

#[tokio::test]
async fn read_and_import_drop_write_only_values() {
    let (svc, _, ty) = service();
    let state = obj(
        &ty,
        &[("id", Value::string("t-1")), ("name", Value::string("a"))],
    );
    let resp = svc
        .read_resource(Request::new(pb::read_resource::Request {
            type_name: "test_thing".into(),
            current_state: dv(&state, &ty),
            ..Default::default()
        }))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(decode(resp.new_state, &ty), state);

    let resp = svc
        .import_resource_state(Request::new(pb::import_resource_state::Request {
            type_name: "test_thing".into(),
            id: "t-9".into(),
            ..Default::default()
        }))
        .await
        .expect("rpc")
        .into_inner();
    assert!(
        errors(&resp.diagnostics).is_empty(),
        "{:?}",
        resp.diagnostics
    );
    let imported = decode(resp.imported_resources[0].state.clone(), &ty);
    assert_eq!(imported.get("id"), Some(&Value::string("t-9")));
    assert_eq!(imported.get("password_wo"), Some(&Value::Null));
}

#[tokio::test]
async fn validation_accepts_write_only_values_from_clients_that_support_them() {
    let (svc, _, ty) = service();
    let config = obj(
        &ty,
        &[
            ("name", Value::string("a")),
            ("password_wo", Value::string("s3cret")),
        ],
    );
    let validate = |allowed: Option<bool>| pb::validate_resource_config::Request {
        type_name: "test_thing".into(),
        config: dv(&config, &ty),
        client_capabilities: allowed.map(|a| pb::ClientCapabilities {
            write_only_attributes_allowed: a,
            deferral_allowed: false,
        }),
    };
    let ok = svc
        .validate_resource_config(Request::new(validate(Some(true))))
        .await
        .expect("rpc")
        .into_inner();
    assert!(errors(&ok.diagnostics).is_empty(), "{:?}", ok.diagnostics);
    for old in [Some(false), None] {
        let refused = svc
            .validate_resource_config(Request::new(validate(old)))
            .await
            .expect("rpc")
            .into_inner();
        assert_eq!(errors(&refused.diagnostics).len(), 1);
        let path = refused.diagnostics[0].attribute.clone().expect("path");
        assert_eq!(
            path,
            convert::path_to_proto(&crate::plugin::AttrPath::root("password_wo"))
        );
    }
}

#[tokio::test]
async fn a_version_0_state_upgrades_and_unknown_versions_are_refused() {
    let (svc, _, ty) = service();
    let upgrade = |version: i64, json: &str| pb::upgrade_resource_state::Request {
        type_name: "test_thing".into(),
        version,
        raw_state: Some(pb::RawState {
            json: json.as_bytes().to_vec(),
            flatmap: Default::default(),
        }),
    };
    let resp = svc
        .upgrade_resource_state(Request::new(upgrade(
            0,
            r#"{"id":"t-1","title":"alpha","password_wo":"old secret"}"#,
        )))
        .await
        .expect("rpc")
        .into_inner();
    assert!(
        errors(&resp.diagnostics).is_empty(),
        "{:?}",
        resp.diagnostics
    );
    let v = decode(resp.upgraded_state, &ty);
    assert_eq!(
        v,
        obj(
            &ty,
            &[
                ("id", Value::string("t-1")),
                ("name", Value::string("alpha"))
            ]
        )
    );

    // ... and plans empty against the configuration that wrote it.
    let config = obj(&ty, &[("name", Value::string("alpha"))]);
    let resp = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "test_thing".into(),
            prior_state: dv(&v, &ty),
            proposed_new_state: dv(&v, &ty),
            config: dv(&config, &ty),
            ..Default::default()
        }))
        .await
        .expect("rpc")
        .into_inner();
    assert!(
        errors(&resp.diagnostics).is_empty(),
        "{:?}",
        resp.diagnostics
    );
    assert_eq!(decode(resp.planned_state, &ty), v);
    assert!(resp.requires_replace.is_empty());

    for version in [2, -1] {
        let resp = svc
            .upgrade_resource_state(Request::new(upgrade(version, r#"{"id":"t-1"}"#)))
            .await
            .expect("rpc")
            .into_inner();
        assert!(resp.upgraded_state.is_none());
        assert_eq!(errors(&resp.diagnostics).len(), 1, "version {version}");
    }
}
