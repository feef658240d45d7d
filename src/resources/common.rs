//! Glue shared by the resources: reading typed values out of configurations,
//! turning rule violations into diagnostics, timeouts and tags.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::wait;
use crate::plugin::{AttrPath, Diagnostics, Value};
use crate::resources::error::OpError;
use crate::rules::{self, Violation};

pub fn str_attr(v: &Value, attr: &str) -> Option<String> {
    v.get(attr).and_then(Value::as_str).map(str::to_string)
}

pub fn int_attr(v: &Value, attr: &str) -> Option<i64> {
    v.get(attr).and_then(Value::as_i64)
}

pub fn bool_attr(v: &Value, attr: &str) -> Option<bool> {
    v.get(attr).and_then(Value::as_bool)
}

/// A state just made by an import (only its ids set): its Auto Scaling
/// group has never been read into it.
pub fn is_import(state: &Value) -> bool {
    !state.is_null()
        && state
            .get("autoscaling_group_name")
            .is_none_or(Value::is_null)
}

pub fn is_unknown(v: &Value, attr: &str) -> bool {
    v.get(attr).is_some_and(Value::is_unknown)
}

/// Refuses fractional values of attributes that count nodes.
pub fn check_whole_numbers(config: &Value, attrs: &[&str], diags: &mut Diagnostics) {
    for attr in attrs {
        if let Some(n) = config.get(attr).and_then(Value::as_number) {
            if n.as_i64().is_none() {
                diags.attribute_error(
                    AttrPath::root(attr),
                    "Invalid number",
                    format!("{attr} counts nodes: {n} is not a whole number. Allowed: whole numbers such as 1 or 2."),
                );
            }
        }
    }
}

/// A map(string) attribute; None when null or unknown.
pub fn map_attr(v: &Value, attr: &str) -> Option<BTreeMap<String, String>> {
    let m = v.get(attr)?.as_map()?;
    let mut out = BTreeMap::new();
    for (k, x) in m {
        out.insert(k.clone(), x.as_str()?.to_string());
    }
    Some(out)
}

/// A list(string) attribute; None when null or unknown (or holding unknowns).
pub fn list_attr(v: &Value, attr: &str) -> Option<Vec<String>> {
    v.get(attr)?
        .as_list()?
        .iter()
        .map(|x| x.as_str().map(str::to_string))
        .collect()
}

pub fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Map(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::string(v)))
            .collect(),
    )
}

pub fn string_list<S: AsRef<str>>(l: &[S]) -> Value {
    Value::List(l.iter().map(|s| Value::string(s.as_ref())).collect())
}

/// A rule violation as a diagnostic on its attribute.
pub fn violation(diags: &mut Diagnostics, v: &Violation) {
    let mut path = AttrPath::root(v.attribute);
    if let Some(i) = v.index {
        path = path.index(i);
    }
    if let Some(k) = &v.key {
        path = path.key(k);
    }
    diags.attribute_error(path, v.summary.clone(), v.detail.clone());
}

pub fn check<T>(diags: &mut Diagnostics, r: Result<T, Violation>) -> Option<T> {
    match r {
        Ok(t) => Some(t),
        Err(v) => {
            violation(diags, &v);
            None
        }
    }
}

pub fn check_all(diags: &mut Diagnostics, vs: Vec<Violation>) {
    for v in &vs {
        violation(diags, v);
    }
}

/// Checks a `timeouts` block: each value must be a duration.
pub fn validate_timeouts(config: &Value, diags: &mut Diagnostics) {
    let Some(t) = config.get("timeouts").and_then(Value::as_map) else {
        return;
    };
    for (op, v) in t {
        if let Some(s) = v.as_str() {
            if wait::parse_duration(s).is_none() {
                diags.attribute_error(
                    AttrPath::root("timeouts").attr(op),
                    "Invalid timeout",
                    format!("{s:?} is not a duration; use a Go duration such as \"30s\", \"10m\" or \"1h\"."),
                );
            }
        }
    }
}

/// The timeout for `op` from the `timeouts` block, or the default.
pub fn timeout(state: &Value, op: &str, default: Duration) -> Duration {
    state
        .get("timeouts")
        .and_then(|t| t.get(op))
        .and_then(Value::as_str)
        .and_then(wait::parse_duration)
        .unwrap_or(default)
}

/// The user's `tags` (empty when unset).
pub fn tags(v: &Value) -> BTreeMap<String, String> {
    map_attr(v, "tags").unwrap_or_default()
}

/// Plans `tags_all` = default_tags + tags, or unknown while tags are unknown.
pub fn plan_tags_all(
    plan: &mut crate::plugin::Plan,
    default_tags: Option<&BTreeMap<String, String>>,
) {
    let tags_val = plan.get("tags").clone();
    let all = match (default_tags, tags_val.is_fully_known()) {
        (Some(d), true) => string_map(&crate::aws::tags::merge(d, &tags(&plan.planned))),
        _ => Value::Unknown,
    };
    plan.set("tags_all", all);
}

/// `tags` as read back: tags_all minus the provider's default tags, keeping
/// null where the user wrote none.
pub fn read_tags(
    prior_tags: &Value,
    tags_all: &BTreeMap<String, String>,
    default_tags: &BTreeMap<String, String>,
) -> Value {
    let own: BTreeMap<String, String> = tags_all
        .iter()
        .filter(|(k, v)| default_tags.get(*k) != Some(*v) || prior_has(prior_tags, k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if own.is_empty() && prior_tags.is_null() {
        Value::Null
    } else {
        string_map(&own)
    }
}

/// [`read_tags`] for a typed model: `prior_tags` None is null.
pub fn read_tags_of(
    prior_tags: Option<&BTreeMap<String, String>>,
    tags_all: &BTreeMap<String, String>,
    default_tags: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    let prior = prior_tags.map_or(Value::Null, string_map);
    map_attr_of(&read_tags(&prior, tags_all, default_tags))
}

/// A map(string) value; None when null.
fn map_attr_of(v: &Value) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, x) in v.as_map()? {
        out.insert(k.clone(), x.as_str()?.to_string());
    }
    Some(out)
}

fn prior_has(prior: &Value, k: &str) -> bool {
    prior.as_map().is_some_and(|m| m.contains_key(k))
}

/// Runs one resource operation until it ends, its `timeouts` deadline passes,
/// or Terraform asks the provider to stop (StopProvider): then the AWS call in
/// flight is dropped and the operation fails, returning whatever state it had
/// reached so far.
pub async fn cancellable<T>(
    cancel: &tokio_util::sync::CancellationToken,
    deadline: (&'static str, std::time::Duration),
    f: impl std::future::Future<Output = Result<T, OpError>>,
) -> Result<T, OpError> {
    let (operation, limit) = deadline;
    let steps = crate::aws::step::Steps::default();
    tokio::select! {
        r = tokio::time::timeout(limit, steps.scope(f)) => r.unwrap_or_else(|_| Err(OpError::Timeout {
            operation,
            limit,
            step: steps.describe(),
        })),
        _ = cancel.cancelled() => Err(OpError::Cancelled { step: steps.describe() }),
    }
}

/// The AWS clients for an operation that writes: from now on this process
/// reads AWS directly, not the refresh snapshot.
pub fn writer<'a>(
    ctx: &'a crate::plugin::Ctx<crate::aws::Clients>,
    diags: &mut Diagnostics,
) -> Option<&'a crate::aws::Clients> {
    let c = ctx.data(diags)?;
    c.mark_write();
    Some(c)
}

pub fn aws_error(diags: &mut Diagnostics, what: &str, e: impl std::fmt::Display) {
    diags.error(what.to_string(), e.to_string());
}

/// After an import found nothing of its own: when the compute group's Auto
/// Scaling group name is taken by a group that is not its own, an error
/// saying so (instead of Terraform's "non-existent remote object").
pub async fn refuse_foreign_import(
    c: &crate::aws::Clients,
    system: &str,
    group: &str,
    what: &str,
    diags: &mut Diagnostics,
) {
    match super::compute::foreign_group(c, system, group).await {
        Ok(Some(why)) => diags.error(format!("importing {what}"), why),
        Ok(None) => {}
        Err(e) => aws_error(diags, &format!("reading {what}"), e),
    }
}

/// Upgrades a state of schema version 0 (builds before 0.1.0 was released)
/// of a system or query group: it lacks `arn` (null until the refresh reads
/// it), and its AWS objects may carry the names of those builds,
/// `<system>-<group>` (a single hyphen), which the provider no longer looks
/// for: such a state is refused, with what to do, rather than upgraded into
/// one whose objects would be lost from sight.
pub fn upgrade_v0(
    raw: &serde_json::Value,
    schema: &crate::plugin::Schema,
    diags: &mut Diagnostics,
) -> Value {
    let asg = raw
        .get("autoscaling_group_name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    if !asg.is_empty() && !asg.contains(rules::NAME_JOIN) {
        diags.error(
            "State written by an earlier build",
            format!(
                "This state was written by a build of the provider that named a compute group's AWS objects `<system>-<group>` (here {asg:?}); this version names them `<system>{}<group>` so that two systems can never share a name, and would not find them. Destroy the resource with the build that created it and apply again, or rename its objects by hand and import it.",
                rules::NAME_JOIN
            ),
        );
        return Value::Null;
    }
    let bytes = serde_json::to_vec(raw).unwrap_or_default();
    match crate::plugin::value::decode_json(&bytes, &schema.ty()) {
        Ok(v) => v,
        Err(e) => {
            diags.error(
                "Unable to upgrade resource state",
                format!("The stored state does not fit the schema: {e}"),
            );
            Value::Null
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_0_state_upgrades_unless_its_objects_carry_old_names() {
        use crate::plugin::value::Type;
        use crate::plugin::{Attribute, Block, Schema};
        let schema = Schema::new(
            1,
            Block::new("t")
                .attr(Attribute::computed(
                    "autoscaling_group_name",
                    Type::String,
                    "g",
                ))
                .attr(Attribute::computed("arn", Type::String, "a")),
        );
        let mut diags = Diagnostics::default();
        let v = upgrade_v0(
            &serde_json::json!({"autoscaling_group_name": "prod--primary"}),
            &schema,
            &mut diags,
        );
        assert!(!diags.has_error());
        assert_eq!(
            v.get("autoscaling_group_name").and_then(Value::as_str),
            Some("prod--primary")
        );
        assert!(v.get("arn").is_none_or(Value::is_null));
        let v = upgrade_v0(
            &serde_json::json!({"autoscaling_group_name": "prod-primary"}),
            &schema,
            &mut diags,
        );
        assert!(v.is_null() && diags.has_error());
    }

    #[tokio::test]
    async fn a_timeout_names_the_step_it_was_on() {
        let e = cancellable(
            &tokio_util::sync::CancellationToken::new(),
            ("create", std::time::Duration::from_millis(20)),
            async {
                crate::aws::step::call("Auto Scaling", "CreateAutoScalingGroup");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                Ok::<(), OpError>(())
            },
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(e.contains("timeout while waiting for the create"), "{e}");
        assert!(e.contains("20ms (timeouts.create)"), "{e}");
        assert!(
            e.contains("It was AWS call in flight: Auto Scaling CreateAutoScalingGroup."),
            "{e}"
        );
    }

    #[test]
    fn read_tags_hides_defaults_unless_overridden() {
        let all: BTreeMap<String, String> = [("env", "dev"), ("team", "a")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let defaults: BTreeMap<String, String> = [("team".to_string(), "a".to_string())]
            .into_iter()
            .collect();
        let v = read_tags(&Value::Null, &all, &defaults);
        assert_eq!(map_attr(&obj("tags", v), "tags").map(|m| m.len()), Some(1));
        let v = read_tags(&Value::Null, &defaults, &defaults);
        assert_eq!(v, Value::Null);
    }

    fn obj(k: &str, v: Value) -> Value {
        let mut m = BTreeMap::new();
        m.insert(k.to_string(), v);
        Value::Object(m)
    }
}
