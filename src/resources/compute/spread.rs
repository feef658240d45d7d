//! Spreading a system's compute groups over subnets its network gained (an
//! earlier build made two availability zones; the storage now has three):
//! each Auto Scaling group's VPCZoneIdentifier and each load balancer's
//! subnets get the new ones in place, nothing replaced. Subnets are only
//! ever added: AWS lets a Network Load Balancer gain zones (SetSubnets) but
//! never lose one.

use super::sdk;
use crate::aws::Clients;
use crate::resources::error::OpError;
use crate::rules;

/// `have` with every subnet of `want` it lacks added, or `None` when it
/// lacks none.
fn widened(have: &[String], want: &[String]) -> Option<Vec<String>> {
    let missing: Vec<&String> = want.iter().filter(|s| !have.contains(s)).collect();
    if missing.is_empty() {
        return None;
    }
    Some(have.iter().chain(missing).cloned().collect())
}

/// Spreads every compute group of `system` (the primary and its query
/// groups) over `subnets`.
pub async fn spread(c: &Clients, system: &str, subnets: &[String]) -> Result<(), OpError> {
    let mut groups = vec![rules::PRIMARY_GROUP.to_string()];
    for tags in c.tagged_groups(rules::TAG_SYSTEM, system).await?.values() {
        if let Some(g) = tags.get(rules::TAG_GROUP) {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
    }
    for group in &groups {
        spread_group(c, system, group, subnets).await?;
    }
    Ok(())
}

async fn spread_group(
    c: &Clients,
    system: &str,
    group: &str,
    subnets: &[String],
) -> Result<(), OpError> {
    if let Some(g) = super::read_group(c, system, group).await? {
        if let Some(all) = widened(&g.subnet_ids, subnets) {
            c.autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(&g.asg_name)
                .vpc_zone_identifier(all.join(","))
                .send()
                .await
                .map_err(sdk)?;
        }
    }
    let arn = super::find_endpoint(c, system, group)
        .await?
        .load_balancer_arn;
    if arn.is_empty() {
        return Ok(());
    }
    let out = c
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(&arn)
        .send()
        .await
        .map_err(sdk)?;
    let have: Vec<String> = out
        .load_balancers()
        .iter()
        .flat_map(|lb| lb.availability_zones())
        .filter_map(|z| z.subnet_id().map(str::to_string))
        .collect();
    if let Some(all) = widened(&have, subnets) {
        c.elbv2
            .set_subnets()
            .load_balancer_arn(&arn)
            .set_subnets(Some(all))
            .send()
            .await
            .map_err(sdk)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn subnets_are_only_added_never_removed() {
        assert_eq!(
            widened(&v(&["a", "b"]), &v(&["a", "b", "c"])),
            Some(v(&["a", "b", "c"]))
        );
        // One the group has beyond the wanted ones stays.
        assert_eq!(
            widened(&v(&["x", "a"]), &v(&["a", "b"])),
            Some(v(&["x", "a", "b"]))
        );
        assert_eq!(widened(&v(&["a", "b", "c"]), &v(&["a", "b"])), None);
        assert_eq!(widened(&v(&["a"]), &[]), None);
    }
}
