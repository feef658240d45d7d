//! How Datomic clients reach a system: the private DNS zone
//! `<system>.<region>.datomic.net`, its `entry` name for the primary compute
//! group and `<group>` for each query group, the endpoint URLs built on them,
//! and the client configuration map a Datomic client takes as is.

use std::collections::BTreeMap;

use super::{CLIENT_PORT, PRIMARY_GROUP};

/// The DNS name of a system's primary compute group in its zone (Datomic's).
pub const ENTRY_RECORD: &str = "entry";
/// What `server-type` a client outside an ion gives.
pub const SERVER_TYPE_CLOUD: &str = "cloud";
/// Keys of the client configuration map, as Datomic's client API names them.
pub const CONFIG_SERVER_TYPE: &str = "server-type";
pub const CONFIG_REGION: &str = "region";
pub const CONFIG_SYSTEM: &str = "system";
pub const CONFIG_ENDPOINT: &str = "endpoint";
/// Time to live of a group's CNAME record: short, so that clients follow a
/// load balancer made again after a repair within a minute.
pub const RECORD_TTL: i64 = 60;

/// The system's private hosted zone, as Datomic names it:
/// `<system>.<region>.datomic.net` (no trailing dot).
pub fn dns_zone_name(system: &str, region: &str) -> String {
    format!("{system}.{region}.datomic.net")
}

/// The DNS name of a compute group in its system's zone: `entry.<zone>` for
/// the primary group, `<group>.<zone>` for a query group (query group names
/// `primary` and `entry` are reserved, so two groups never share one).
pub fn group_dns_name(system: &str, region: &str, group: &str) -> String {
    let label = if group == PRIMARY_GROUP {
        ENTRY_RECORD
    } else {
        group
    };
    format!("{label}.{}", dns_zone_name(system, region))
}

/// The client endpoint URL of a compute group: `http://<dns name>:8182/`.
pub fn endpoint_url(system: &str, region: &str, group: &str) -> String {
    format!(
        "http://{}:{CLIENT_PORT}/",
        group_dns_name(system, region, group)
    )
}

/// What a Datomic client takes as is to connect to `system` through its
/// primary compute group: `server-type`, `region`, `system`, `endpoint`.
pub fn client_config(system: &str, region: &str) -> BTreeMap<String, String> {
    [
        (CONFIG_SERVER_TYPE, SERVER_TYPE_CLOUD.to_string()),
        (CONFIG_REGION, region.to_string()),
        (CONFIG_SYSTEM, system.to_string()),
        (CONFIG_ENDPOINT, endpoint_url(system, region, PRIMARY_GROUP)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Whether two DNS names are the same name: Route53 answers them fully
/// qualified (trailing dot) and case is not significant.
pub fn same_dns_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// The caller reference of a zone's CreateHostedZone: it names the system, so
/// that a zone whose create was answered but not yet tagged (an interrupted
/// apply) is recognised as ours by what only we set; `nonce` makes it unique
/// (Route53 refuses a reference used before, even by a deleted zone).
pub fn zone_caller_reference(system: &str, nonce: &str) -> String {
    format!("{}{nonce}", zone_caller_prefix(system))
}

/// The prefix of our caller references for `system`'s zone.
pub fn zone_caller_prefix(system: &str) -> String {
    format!("datomic:{system}:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_datomic() {
        assert_eq!(
            dns_zone_name("inv", "eu-west-1"),
            "inv.eu-west-1.datomic.net"
        );
        assert_eq!(
            group_dns_name("inv", "eu-west-1", PRIMARY_GROUP),
            "entry.inv.eu-west-1.datomic.net"
        );
        assert_eq!(
            group_dns_name("inv", "eu-west-1", "analytics"),
            "analytics.inv.eu-west-1.datomic.net"
        );
        assert_eq!(
            endpoint_url("inv", "us-east-1", PRIMARY_GROUP),
            "http://entry.inv.us-east-1.datomic.net:8182/"
        );
        assert_eq!(
            endpoint_url("inv", "us-east-1", "web"),
            "http://web.inv.us-east-1.datomic.net:8182/"
        );
    }

    #[test]
    fn the_client_config_is_datomics_map() {
        let want: BTreeMap<String, String> = [
            ("server-type", "cloud"),
            ("region", "us-east-1"),
            ("system", "inv"),
            ("endpoint", "http://entry.inv.us-east-1.datomic.net:8182/"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(client_config("inv", "us-east-1"), want);
        assert!(!client_config("inv", "us-east-1").contains_key("port"));
    }

    #[test]
    fn dns_names_compare_without_the_root_dot_and_case() {
        assert!(same_dns_name(
            "entry.s.x.datomic.net.",
            "entry.s.x.datomic.net"
        ));
        assert!(same_dns_name(
            "Entry.S.x.datomic.net",
            "entry.s.x.datomic.net."
        ));
        assert!(!same_dns_name(
            "entry.s.x.datomic.net",
            "web.s.x.datomic.net"
        ));
    }

    #[test]
    fn caller_references_name_the_system() {
        let r = zone_caller_reference("inv", "123");
        assert_eq!(r, "datomic:inv:123");
        assert!(r.starts_with(&zone_caller_prefix("inv")));
        // One system's prefix is never another's: names hold no `:`.
        assert!(!zone_caller_reference("inv2", "1").starts_with(&zone_caller_prefix("inv")));
    }
}
