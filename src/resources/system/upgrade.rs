//! The storage an update works on: what the state says it is, plus what a
//! system of an earlier build lacks (its KMS key, catalog table, log group
//! and file system; the third zone of a two-zone network), made in place.

use super::model::SystemModel;
use crate::aws::{tags, Clients};
use crate::resources::compute;
use crate::resources::error::OpError;
use crate::resources::storage;
use crate::rules::PRIMARY_GROUP;

/// The system's storage for an update, with what an earlier build did not
/// make added.
pub(super) async fn storage(
    c: &Clients,
    name: &str,
    full: &tags::Tags,
    prior: &SystemModel,
    planned: &SystemModel,
    timeout: std::time::Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<storage::Storage, OpError> {
    let mut st = storage::Storage {
        vpc_id: planned.vpc_id.clone().unwrap_or_default(),
        subnet_ids: planned.subnet_ids.clone().unwrap_or_default(),
        bucket: planned.bucket_name.clone().unwrap_or_default(),
        table: planned.table_name.clone().unwrap_or_default(),
        key_arn: prior.kms_key_arn.clone().unwrap_or_default(),
        catalog: prior.catalog_table_name.clone().unwrap_or_default(),
        file_system_id: prior.file_system_id.clone().unwrap_or_default(),
        log_group: prior.log_group_name.clone().unwrap_or_default(),
        ..Default::default()
    };
    // A system of an earlier build has no KMS key, catalog table, log group
    // nor file system: it gets them (tagged as they are made), its bucket
    // and table moved to the key.
    if st.key_arn.is_empty()
        || st.catalog.is_empty()
        || st.log_group.is_empty()
        || st.file_system_id.is_empty()
    {
        st = storage::add_missing(c, name, full, st, timeout, cancel).await?;
    }
    // A file system just made: the nodes' policy names it now (a query
    // group's role gets it by the group's next apply).
    if prior
        .file_system_id
        .as_deref()
        .unwrap_or_default()
        .is_empty()
        && !st.file_system_id.is_empty()
    {
        let policy = compute::system_node_policy(c, name).await?;
        let keep = planned.node_policy_arn.as_deref();
        compute::repair_node_role(c, name, PRIMARY_GROUP, full, &policy, keep, cancel).await?;
    }
    // A network an earlier build made in two zones gets its third
    // (planned unknown: see plan.rs); every group spreads over it in place.
    if planned.subnet_ids.is_none()
        && !st.vpc_id.is_empty()
        && storage::NetworkOwner::of_state(planned.network_managed)
            == storage::NetworkOwner::Provider
    {
        st.subnet_ids = storage::widen_network(c, name, full, &st.vpc_id).await?;
        compute::spread::spread(c, name, &st.subnet_ids).await?;
        // The new zone's mount target.
        storage::ensure_file_system(c, name, full, &mut st, timeout, cancel).await?;
    }
    Ok(st)
}
