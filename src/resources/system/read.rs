//! Reading a `datomic_system` back from AWS into its model.

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

/// The system's topology as its group says it: its tag, else its nodes'
/// configuration, else from its size (more than one node: production).
fn topology_of(g: &compute::GroupState) -> String {
    g.tags
        .get(crate::rules::TAG_TOPOLOGY)
        .cloned()
        .or_else(|| g.node.topology.clone())
        .unwrap_or_else(|| {
            if g.desired > 1 {
                "production".into()
            } else {
                "solo".into()
            }
        })
}

/// The application as its group says it: its tag, else its nodes' configuration.
fn application_of(g: &compute::GroupState) -> String {
    g.tags
        .get(rules::TAG_APPLICATION)
        .cloned()
        .unwrap_or_else(|| g.node.application.clone())
}

/// `retain_storage` as read: the group's tag says it (anything but "false"
/// retains); without the tag, the state's, else retained.
fn retain_storage_of(tag: Option<&str>, state: Option<bool>) -> Option<bool> {
    match tag {
        Some("false") => Some(false),
        Some(_) => Some(true),
        None => state.or(Some(true)),
    }
}

impl SystemResource {
    /// What a destroy cut short (e.g. at its timeout, by a dependency) may have
    /// left besides the compute group: the nodes' security group, the DNS
    /// zone, and the storage it was to delete. Kept in state, the next destroy finishes it.
    async fn has_leftovers(
        &self,
        c: &Clients,
        name: &str,
        state: &SystemModel,
    ) -> Result<bool, OpError> {
        if compute::has_leftovers(c, name, PRIMARY_GROUP).await?
            || security_group::find(c, name).await?.is_some()
            || compute::dns::find_zone(c, name).await?.is_some()
        {
            return Ok(true);
        }
        if state.retains_storage() {
            return Ok(false);
        }
        let st = storage::find(c, name).await?;
        Ok(!(st.vpc_id.is_empty()
            && st.bucket.is_empty()
            && st.table.is_empty()
            && st.catalog.is_empty()
            && st.key_arn.is_empty()
            && st.log_group.is_empty()
            && st.file_system_id.is_empty()))
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
        let topology = topology_of(&g);
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
                storage::differing_tags(c, &name, &st, network, &tags_all, IDENTITY_KEYS).await?
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
        v.application_name = Some(application_of(&g));
        v.image_id = Some(g.image_id.clone());
        v.retain_storage = retain_storage_of(
            g.tags.get(rules::TAG_RETAIN_STORAGE).map(String::as_str),
            v.retain_storage,
        );
        v.tags = read_tags_of(state.tags.as_ref(), &tags_all, &c.default_tags);
        v.tags_all = Some(tags_all);
        v.vpc_id = Some(vpc_id);
        v.network_managed = Some(!st.vpc_id.is_empty());
        v.subnet_ids = Some(subnet_ids);
        v.security_group_id = Some(sg.clone());
        // The clients are admitted by the primary load balancer's own group.
        let ep = compute::find_endpoint(c, &name, PRIMARY_GROUP).await?;
        // Beside them, anything else the nodes' group admits is client
        // access the configuration does not list: drift.
        let (mut cidrs, mut groups) =
            compute::lb_security_group::client_access(c, &ep.security_group_id).await?;
        let (more_cidrs, more_groups) =
            compute::lb_security_group::node_extras(c, &name, &sg, &ep.security_group_id).await?;
        cidrs.extend(more_cidrs);
        groups.extend(more_groups);
        for v in [&mut cidrs, &mut groups] {
            v.sort();
            v.dedup();
        }
        v.client_cidr_blocks = read_set(state.client_cidr_blocks.as_ref(), &cidrs);
        v.client_security_group_ids = read_set(state.client_security_group_ids.as_ref(), &groups);
        v.bucket_name = Some(st.bucket.clone());
        v.table_name = Some(st.table.clone());
        // None for a system of an earlier build: the plan then adds the key.
        v.kms_key_arn = Some(st.key_arn.clone()).filter(|k| !k.is_empty());
        v.catalog_table_name = Some(st.catalog.clone()).filter(|k| !k.is_empty());
        v.file_system_id = Some(st.file_system_id.clone()).filter(|k| !k.is_empty());
        v.log_group_name = Some(st.log_group.clone()).filter(|k| !k.is_empty());
        let arn = state.node_policy_arn.as_deref();
        let role = compute::node_role_as_read(c, &name, PRIMARY_GROUP, arn).await?;
        v.node_role_name = Some(role.name);
        v.node_policy_arn = role.node_policy_arn;
        v.launch_template_id = Some(g.launch_template_id_as_read());
        v.autoscaling_group_name = Some(g.asg_name.clone());
        v.arn = Some(g.arn.clone());
        let lb_dns = ep.usable_dns();
        v.endpoint = Some(compute::dns::read_endpoint(c, &name, PRIMARY_GROUP, lb_dns).await?);
        v.load_balancer_dns_name = Some(lb_dns.to_string());
        v.client_config = Some(rules::client_config(&name, &c.region));
        Ok(Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::resources::testing::tags as t;

    #[test]
    fn a_set_reads_back_null_only_when_empty_and_null_before() {
        let items = vec!["10.0.0.0/8".to_string()];
        assert_eq!(read_set(None, &[]), None);
        assert_eq!(read_set(Some(&Vec::new()), &[]), Some(Vec::new()));
        // Rules removed outside Terraform: an empty set, drift from the prior.
        assert_eq!(read_set(Some(&items), &[]), Some(Vec::new()));
        assert_eq!(read_set(None, &items), Some(items.clone()));
    }

    #[test]
    fn the_topology_comes_from_the_tag_then_the_nodes_then_the_size() {
        let mut g = compute::GroupState {
            desired: 1,
            ..Default::default()
        };
        assert_eq!(topology_of(&g), "solo");
        g.desired = 2;
        assert_eq!(topology_of(&g), "production");
        g.node.topology = Some("solo".into());
        assert_eq!(topology_of(&g), "solo");
        g.tags = t(&[(rules::TAG_TOPOLOGY, "production")]);
        g.desired = 1;
        assert_eq!(topology_of(&g), "production");
    }

    #[test]
    fn the_application_comes_from_the_tag_then_the_nodes() {
        let mut g = compute::GroupState::default();
        g.node.application = "from-nodes".into();
        assert_eq!(application_of(&g), "from-nodes");
        g.tags = t(&[(rules::TAG_APPLICATION, "from-tag")]);
        assert_eq!(application_of(&g), "from-tag");
    }

    #[test]
    fn retain_storage_follows_the_groups_tag() {
        assert_eq!(retain_storage_of(Some("false"), Some(true)), Some(false));
        assert_eq!(retain_storage_of(Some("true"), Some(false)), Some(true));
        // Anything but "false" keeps the data.
        assert_eq!(retain_storage_of(Some("no"), None), Some(true));
        assert_eq!(retain_storage_of(Some(""), None), Some(true));
        // No tag (a group made before it): the state's, else retained.
        assert_eq!(retain_storage_of(None, Some(false)), Some(false));
        assert_eq!(retain_storage_of(None, None), Some(true));
    }

    #[test]
    fn tags_read_back_without_the_default_tags() {
        let defaults = t(&[("env", "prod")]);
        let all = t(&[("env", "prod"), ("team", "data")]);
        assert_eq!(
            read_tags_of(None, &all, &defaults),
            Some(t(&[("team", "data")]))
        );
        // Only default tags and no tags written: null, as the user wrote.
        assert_eq!(read_tags_of(None, &defaults, &defaults), None);
        // A default tag the user also wrote stays in `tags`.
        assert_eq!(
            read_tags_of(Some(&t(&[("env", "prod")])), &all, &defaults),
            Some(all.clone())
        );
        // A default tag changed by hand is the user's to see.
        let changed = t(&[("env", "dev")]);
        assert_eq!(
            read_tags_of(None, &changed, &defaults),
            Some(changed.clone())
        );
    }
}
