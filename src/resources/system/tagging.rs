//! The tags a system's objects carry: `tags_all` plus its identity tags.

use super::SystemModel;
use crate::aws::{tags, Clients};
use crate::rules::{self, PRIMARY_GROUP};

fn identity(system: &str, app: &str, topology: &str, retain: bool) -> Vec<(&'static str, String)> {
    vec![
        (rules::TAG_RETAIN_STORAGE, retain.to_string()),
        (rules::TAG_SYSTEM, system.to_string()),
        (rules::TAG_GROUP, PRIMARY_GROUP.to_string()),
        (rules::TAG_APPLICATION, app.to_string()),
        (rules::TAG_MANAGED_BY, rules::MANAGED_BY_VALUE.to_string()),
        (rules::TAG_TOPOLOGY, topology.to_string()),
    ]
}

pub(super) fn all_tags(
    c: &Clients,
    v: &SystemModel,
    system: &str,
    app: &str,
    topology: &str,
) -> (tags::Tags, tags::Tags) {
    let tags_all = tags::merge(&c.default_tags, &v.tags.clone().unwrap_or_default());
    let full = with_identity_of(&tags_all, v, system, app, topology);
    (tags_all, full)
}

/// `tags_all` plus the identity tags of the system `v` describes.
fn with_identity_of(
    tags_all: &tags::Tags,
    v: &SystemModel,
    system: &str,
    app: &str,
    topology: &str,
) -> tags::Tags {
    let id = identity(system, app, topology, v.retains_storage());
    let idref: Vec<(&str, &str)> = id.iter().map(|(k, v)| (*k, v.as_str())).collect();
    tags::with_identity(tags_all, &idref)
}

/// What the system's objects were tagged with, from a state: its `tags_all`
/// (the tags as applied, `default_tags` included) plus its identity.
pub(super) fn full_tags_of_state(v: &SystemModel, system: &str) -> tags::Tags {
    let app = v
        .application_name
        .clone()
        .unwrap_or_else(|| system.to_string());
    let topology = v.topology.clone().unwrap_or_default();
    with_identity_of(
        &v.tags_all.clone().unwrap_or_default(),
        v,
        system,
        &app,
        &topology,
    )
}

pub(super) const IDENTITY_KEYS: &[&str] = &[
    rules::TAG_CREATED,
    rules::TAG_RETAIN_STORAGE,
    rules::TAG_SYSTEM,
    rules::TAG_GROUP,
    rules::TAG_APPLICATION,
    rules::TAG_MANAGED_BY,
    rules::TAG_TOPOLOGY,
];
