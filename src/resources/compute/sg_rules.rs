//! Security group ingress rules one (protocol, ports, source) at a time, so
//! that what a group has and what it should have compare as sets: the nodes'
//! group admits the client port from its own nodes and the load balancers'
//! groups only, a load balancer's group the clients the configuration lists.

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair};

use crate::rules;

/// Where a rule admits traffic from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Group(String),
    Cidr(String),
    Cidr6(String),
    PrefixList(String),
}

/// One ingress rule: protocol, port range (none for all protocols) and source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    pub protocol: String,
    pub from: Option<i32>,
    pub to: Option<i32>,
    pub source: Source,
}

impl Rule {
    /// TCP on the client port from `source`.
    pub fn client_port(source: Source) -> Rule {
        Rule {
            protocol: "tcp".into(),
            from: Some(rules::CLIENT_PORT),
            to: Some(rules::CLIENT_PORT),
            source,
        }
    }

    /// This rule as a permission AWS takes, with `description` on its source.
    pub fn permission(&self, description: &str) -> IpPermission {
        let p = IpPermission::builder()
            .ip_protocol(&self.protocol)
            .set_from_port(self.from)
            .set_to_port(self.to);
        match &self.source {
            Source::Group(id) => p.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(id)
                    .description(description)
                    .build(),
            ),
            Source::Cidr(c) => p.ip_ranges(
                IpRange::builder()
                    .cidr_ip(c)
                    .description(description)
                    .build(),
            ),
            Source::Cidr6(c) => p.ipv6_ranges(
                Ipv6Range::builder()
                    .cidr_ipv6(c)
                    .description(description)
                    .build(),
            ),
            Source::PrefixList(id) => p.prefix_list_ids(
                PrefixListId::builder()
                    .prefix_list_id(id)
                    .description(description)
                    .build(),
            ),
        }
        .build()
    }
}

/// A group's ingress permissions as single rules; sorted, no duplicates.
pub fn rules_of(perms: &[IpPermission]) -> Vec<Rule> {
    let mut out = Vec::new();
    for p in perms {
        let rule = |source| Rule {
            protocol: p.ip_protocol().unwrap_or("-1").to_string(),
            from: p.from_port(),
            to: p.to_port(),
            source,
        };
        let sources = p
            .user_id_group_pairs()
            .iter()
            .filter_map(|u| u.group_id().map(|g| Source::Group(g.into())))
            .chain(
                p.ip_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ip().map(|c| Source::Cidr(c.into()))),
            )
            .chain(
                p.ipv6_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ipv6().map(|c| Source::Cidr6(c.into()))),
            )
            .chain(
                p.prefix_list_ids()
                    .iter()
                    .filter_map(|r| r.prefix_list_id().map(|c| Source::PrefixList(c.into()))),
            );
        out.extend(sources.map(rule));
    }
    out.sort();
    out.dedup();
    out
}

/// What takes the rules `now` to `want`: (to add, to revoke).
pub fn diff(now: &[Rule], want: &[Rule]) -> (Vec<Rule>, Vec<Rule>) {
    let add = want.iter().filter(|r| !now.contains(r)).cloned().collect();
    let revoke = now.iter().filter(|r| !want.contains(r)).cloned().collect();
    (add, revoke)
}

/// The rules of the nodes' group `nodes`: the client port (the one Datomic
/// serves on, health checks included) from the nodes themselves and from
/// each load balancer's group; nothing else, no address range.
pub fn node_rules(nodes: &str, load_balancer_groups: &[String]) -> Vec<Rule> {
    let mut out: Vec<Rule> = std::iter::once(nodes)
        .chain(load_balancer_groups.iter().map(String::as_str))
        .filter(|g| !g.is_empty())
        .map(|g| Rule::client_port(Source::Group(g.into())))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The rules of a load balancer's group: the client port from each client
/// CIDR block (IPv6 ones too, should one come) and security group.
pub fn client_rules(cidrs: &[String], groups: &[String]) -> Vec<Rule> {
    let mut out: Vec<Rule> = cidrs
        .iter()
        .map(|c| {
            if c.contains(':') {
                Source::Cidr6(c.clone())
            } else {
                Source::Cidr(c.clone())
            }
        })
        .chain(groups.iter().map(|g| Source::Group(g.clone())))
        .map(Rule::client_port)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What a load balancer's group admits, as `client_cidr_blocks` and
/// `client_security_group_ids` read back: the source of every rule, on any
/// port (so that a rule added by hand, IPv6 or a prefix list included, shows
/// as drift; the next apply revokes it as it is); sorted, no duplicates.
pub fn client_access_of(rules: &[Rule]) -> (Vec<String>, Vec<String>) {
    let (mut cidrs, mut groups) = (Vec::new(), Vec::new());
    for r in rules {
        match &r.source {
            Source::Group(g) => groups.push(g.clone()),
            Source::Cidr(c) | Source::Cidr6(c) | Source::PrefixList(c) => cidrs.push(c.clone()),
        }
    }
    cidrs.sort();
    cidrs.dedup();
    groups.sort();
    groups.dedup();
    (cidrs, groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn on(from: i32, to: i32) -> aws_sdk_ec2::types::builders::IpPermissionBuilder {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(from)
            .to_port(to)
    }

    #[test]
    fn permissions_read_as_single_rules() {
        let port = rules::CLIENT_PORT;
        let perms = [
            on(port, port)
                .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/16").build())
                .ip_ranges(IpRange::builder().cidr_ip("10.1.0.0/16").build())
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-a").build())
                .build(),
            on(0, 65535)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-a").build())
                .build(),
            IpPermission::builder()
                .ip_protocol("-1")
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .prefix_list_ids(PrefixListId::builder().prefix_list_id("pl-1").build())
                .build(),
        ];
        let got = rules_of(&perms);
        assert_eq!(got.len(), 6, "{got:?}");
        assert!(got.contains(&Rule::client_port(Source::Cidr("10.1.0.0/16".into()))));
        assert!(got.contains(&Rule::client_port(Source::Group("sg-a".into()))));
        assert!(got.contains(&Rule {
            protocol: "-1".into(),
            from: None,
            to: None,
            source: Source::Cidr6("::/0".into()),
        }));
        assert!(rules_of(&[]).is_empty());
    }

    #[test]
    fn a_rule_goes_back_to_aws_as_it_was_read() {
        let perms = [on(22, 22)
            .ip_ranges(IpRange::builder().cidr_ip("1.2.3.4/32").build())
            .build()];
        let rule = &rules_of(&perms)[0];
        let back = rule.permission("x");
        assert_eq!(
            (back.ip_protocol(), back.from_port(), back.to_port()),
            (Some("tcp"), Some(22), Some(22))
        );
        assert_eq!(back.ip_ranges()[0].cidr_ip(), Some("1.2.3.4/32"));
        assert_eq!(rules_of(&[back]), vec![rule.clone()]);
    }

    #[test]
    fn the_nodes_admit_the_client_port_from_themselves_and_the_load_balancers_only() {
        let want = node_rules("sg-nodes", &strings(&["sg-lb2", "sg-lb1", "", "sg-lb1"]));
        assert_eq!(want.len(), 3);
        assert!(want.iter().all(|r| r.from == Some(rules::CLIENT_PORT)
            && r.to == Some(rules::CLIENT_PORT)
            && r.protocol == "tcp"
            && matches!(r.source, Source::Group(_))));
        // What older versions wrote: every port between nodes, the subnets'
        // ranges for health checks, clients on the nodes: all revoked.
        let port = rules::CLIENT_PORT;
        let old = rules_of(&[
            on(0, 65535)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-nodes").build())
                .build(),
            on(port, port)
                .ip_ranges(IpRange::builder().cidr_ip("10.0.1.0/24").build())
                .ip_ranges(IpRange::builder().cidr_ip("10.20.0.0/16").build())
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-lb1").build())
                .build(),
        ]);
        let (add, revoke) = diff(&old, &want);
        assert_eq!(
            add,
            vec![
                Rule::client_port(Source::Group("sg-lb2".into())),
                Rule::client_port(Source::Group("sg-nodes".into())),
            ]
        );
        assert_eq!(revoke.len(), 3, "{revoke:?}");
        assert!(!revoke.contains(&Rule::client_port(Source::Group("sg-lb1".into()))));
        let (add, revoke) = diff(&want, &want);
        assert!(add.is_empty() && revoke.is_empty());
    }

    #[test]
    fn client_rules_and_what_reads_back() {
        let want = client_rules(&strings(&["10.0.0.0/16", "::/0"]), &strings(&["sg-app"]));
        assert_eq!(want.len(), 3);
        assert!(want.contains(&Rule::client_port(Source::Cidr6("::/0".into()))));
        assert_eq!(
            client_access_of(&want),
            (strings(&["10.0.0.0/16", "::/0"]), strings(&["sg-app"]))
        );
        // A rule added by hand on another port reads back as an extra source.
        let mut found = want.clone();
        found.push(Rule {
            protocol: "tcp".into(),
            from: Some(22),
            to: Some(22),
            source: Source::Cidr("1.2.3.4/32".into()),
        });
        let (cidrs, _) = client_access_of(&found);
        assert!(cidrs.contains(&"1.2.3.4/32".to_string()));
        let (add, revoke) = diff(&found, &want);
        assert!(add.is_empty());
        assert_eq!(revoke, vec![found[3].clone()]);
        assert_eq!(client_access_of(&[]), (Vec::new(), Vec::new()));
    }
}
