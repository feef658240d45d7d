//! Reading a `datomic_system` back from AWS into its model.

use std::collections::BTreeMap;

use super::model::SystemModel;
use super::{SystemResource, IDENTITY_KEYS};
use crate::aws::{tags, Clients};
use crate::resources::common::read_tags_of;
use crate::resources::compute::{self, security_group};
use crate::resources::error::OpError;
use crate::resources::storage;
use crate::rules::{self, PRIMARY_GROUP};

/// A set attribute as read back: null when empty and the prior had none.
fn read_set(prior: Option<&Vec<String>>, items: &[String]) -> Option<Vec<String>> {
    if items.is_empty() && prior.is_none() {
        None
    } else {
        Some(items.to_vec())
    }
}

/// What a client library needs to reach the system.
pub(super) fn client_config(c: &Clients, system: &str, endpoint: &str) -> BTreeMap<String, String> {
    [
        ("region", c.region.clone()),
        ("system", system.to_string()),
        ("endpoint", endpoint.to_string()),
        ("port", rules::CLIENT_PORT.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl SystemResource {
    /// What a destroy cut short (e.g. at its timeout, by a dependency) may have
    /// left besides the compute group: the nodes' security group, and the
    /// storage it was to delete. Kept in state, the next destroy finishes it.
    async fn has_leftovers(
        &self,
        c: &Clients,
        name: &str,
        state: &SystemModel,
    ) -> Result<bool, OpError> {
        if compute::has_leftovers(c, name, PRIMARY_GROUP).await?
            || security_group::find(c, name).await?.is_some()
        {
            return Ok(true);
        }
        if state.retains_storage() {
            return Ok(false);
        }
        let st = storage::find(c, name).await?;
        Ok(!(st.vpc_id.is_empty() && st.bucket.is_empty() && st.table.is_empty()))
    }

    /// Reads the system named by `state`'s `id` (or `name`) as this resource's
    /// state; None when its primary compute group does not exist. `exists`:
    /// whether there is a prior state at all (a null one has nothing to keep
    /// tracking).
    pub(super) async fn read_model(
        &self,
        c: &Clients,
        state: &SystemModel,
        exists: bool,
    ) -> Result<Option<SystemModel>, OpError> {
        let name = state
            .id
            .clone()
            .or_else(|| state.name.clone())
            .unwrap_or_default();
        let Some(g) = compute::read_group(c, &name, PRIMARY_GROUP).await? else {
            if exists && self.has_leftovers(c, &name, state).await? {
                // Half made (a failed create) or its Auto Scaling group deleted
                // outside Terraform: keep tracking it, the next plan replaces it.
                let mut v = state.clone();
                v.autoscaling_group_name = Some(String::new());
                return Ok(Some(v));
            }
            return Ok(None);
        };
        let st = storage::find(c, &name).await?;
        let sg = security_group::find(c, &name).await?.unwrap_or_default();
        // The network: ours (found by tag), else the one the user brought,
        // as the primary group's Auto Scaling group has it.
        let (vpc_id, subnet_ids) = if st.vpc_id.is_empty() {
            compute::network_of(c, &g).await?
        } else {
            (st.vpc_id.clone(), st.subnet_ids.clone())
        };
        let mut v = state.clone();
        let topology = g
            .tags
            .get(crate::rules::TAG_TOPOLOGY)
            .cloned()
            .or_else(|| g.node.topology.clone())
            .unwrap_or_else(|| {
                if g.desired > 1 {
                    "production".into()
                } else {
                    "solo".into()
                }
            });
        let mut tags_all = tags::user_tags(&g.tags, IDENTITY_KEYS);
        // Tags changed by hand on the storage are drift too. When the group's
        // tags are still those of the state, the first storage object whose
        // tags differ shows its own, so the plan puts them back (the update
        // mends every object); drift of the group's own tags shows as it is.
        // Only in a refresh: after this process's own writes the tags are what
        // it wrote, and AWS's tagging APIs are eventually consistent.
        if !c.has_written() && state.tags_all.as_ref() == Some(&tags_all) {
            // `find` sees only a network tagged as the system's: the provider's.
            let network = storage::NetworkOwner::Provider;
            if let Some((object, own)) =
                storage::differing_tags(c, &st, network, &tags_all, IDENTITY_KEYS).await?
            {
                crate::plugin::log::info(
                    "storage tags differ from the system's",
                    &[("object", &object)],
                );
                tags_all = own;
            }
        }
        v.id = Some(name.clone());
        v.name = Some(name.clone());
        v.topology = Some(topology);
        v.instance_type = Some(g.instance_type.clone());
        v.node_count = Some(g.desired);
        let app = g
            .tags
            .get(rules::TAG_APPLICATION)
            .cloned()
            .unwrap_or_else(|| g.node.application.clone());
        v.application_name = Some(app);
        v.image_id = Some(g.image_id.clone());
        match g.tags.get(rules::TAG_RETAIN_STORAGE).map(String::as_str) {
            Some("false") => v.retain_storage = Some(false),
            Some(_) => v.retain_storage = Some(true),
            None if v.retain_storage.is_none() => v.retain_storage = Some(true),
            None => {}
        }
        v.tags = read_tags_of(state.tags.as_ref(), &tags_all, &c.default_tags);
        v.tags_all = Some(tags_all);
        v.vpc_id = Some(vpc_id);
        v.network_managed = Some(!st.vpc_id.is_empty());
        v.subnet_ids = Some(subnet_ids);
        v.security_group_id = Some(sg.clone());
        let (cidrs, groups) = if sg.is_empty() {
            Default::default()
        } else {
            security_group::client_rules(c, &sg).await?
        };
        v.client_cidr_blocks = read_set(state.client_cidr_blocks.as_ref(), &cidrs);
        v.client_security_group_ids = read_set(state.client_security_group_ids.as_ref(), &groups);
        v.bucket_name = Some(st.bucket.clone());
        v.table_name = Some(st.table.clone());
        v.node_role_name = Some(compute::node_role_name_as_read(c, &name, PRIMARY_GROUP).await?);
        v.launch_template_id = Some(g.launch_template_id.clone());
        v.autoscaling_group_name = Some(g.asg_name.clone());
        v.arn = Some(g.arn.clone());
        let ep = compute::find_endpoint(c, &name, PRIMARY_GROUP).await?;
        v.endpoint = Some(ep.usable_dns().to_string());
        v.client_config = Some(client_config(c, &name, ep.usable_dns()));
        Ok(Some(v))
    }
}
