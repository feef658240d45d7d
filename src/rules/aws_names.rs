//! The AWS names derived from a system's and a group's names: Auto Scaling
//! group, launch template, load balancer, security group, IAM role, instance
//! profile and policy, S3 bucket, DynamoDB table.

/// What joins a system's name and a group's in derived names. Names never
/// contain it ([`check_system_name`](super::check_system_name),
/// [`check_query_group_name`](super::check_query_group_name)), so no two
/// (system, group) pairs derive the same name: system `a` with group
/// `b-primary` is `a--b-primary`, system `a-b`'s primary group `a-b--primary`.
pub const NAME_JOIN: &str = "--";

/// Auto Scaling group: `<system>--<group>`, e.g. `prod--primary`, `prod--analytics`.
pub fn asg_name(system: &str, group: &str) -> String {
    format!("{system}{NAME_JOIN}{group}")
}

/// Load balancer and target group of a compute group: Elastic Load
/// Balancing allows at most 32 letters, digits and single hyphens (no `--`),
/// not starting with `internal-`. So the name is `<system>-<group>`, cut to
/// fit, then a hash of `<system>--<group>` (FNV-1a, 32 bits, 8 hex digits):
/// `acme-primary-1a2b3c4d`. The readable part alone could be shared (system
/// `a` with group `b-primary`, system `a-b` with `primary`); the hash keeps
/// them apart, and the ownership tags refuse the one case in four billion.
pub fn load_balancer_name(system: &str, group: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in asg_name(system, group).bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let mut readable = format!("{system}-{group}");
    if readable.starts_with("internal-") {
        readable.insert_str(0, "dtm-");
    }
    let prefix: String = readable.chars().take(32 - 9).collect();
    format!("{}-{h:08x}", prefix.trim_end_matches('-'))
}

/// Launch template: `<system>--<group>` (own namespace, same as the group).
pub fn launch_template_name(system: &str, group: &str) -> String {
    asg_name(system, group)
}

/// The system's node security group: `datomic-<system>-nodes` (EC2 refuses names starting with `sg-`).
pub fn security_group_name(system: &str) -> String {
    format!("datomic-{system}-nodes")
}

/// A compute group's load balancer's own security group:
/// `datomic-<system>--<group>-lb` (at most 60 of EC2's 255 characters).
/// Never the nodes' group's name: that one has no `--`.
pub fn load_balancer_security_group_name(system: &str, group: &str) -> String {
    format!("datomic-{}-lb", asg_name(system, group))
}

/// IAM role of a compute group's nodes: `<system>--<group>-node` (at most 55 of IAM's 64 characters).
pub fn node_role_name(system: &str, group: &str) -> String {
    node_role_of_group(&asg_name(system, group))
}

/// The node role of the compute group whose Auto Scaling group is `asg`.
pub fn node_role_of_group(asg: &str) -> String {
    format!("{asg}-node")
}

/// The permissions boundary of every node role of a system, an IAM managed
/// policy: `<system>--node-boundary` under the path [`NODE_BOUNDARY_PATH`].
/// No group name is `node-boundary` with a role of its own here: roles end in
/// `-node`, and managed policies are a namespace of their own.
pub fn node_boundary_name(system: &str) -> String {
    format!("{system}{NAME_JOIN}node-boundary")
}

/// The IAM path of the provider's managed policies.
pub const NODE_BOUNDARY_PATH: &str = "/datomic/";

/// Instance profile of a compute group's nodes: same name as its role.
pub fn instance_profile_name(system: &str, group: &str) -> String {
    node_role_name(system, group)
}

/// Inline policy name for an application's `iam_policy` on the node role: `datomic-app-<application>`.
pub fn application_policy_name(application: &str) -> String {
    format!("datomic-app-{application}")
}

/// Longest S3 bucket name.
const MAX_BUCKET_NAME_LEN: usize = 63;

/// S3 bucket: `datomic-<system>-<suffix>-storage`, at most 63 characters.
/// The suffix (usually the AWS account id, to make the name globally unique)
/// is lowercased, every run of other characters than `a-z0-9` becomes one
/// `-`, and it is shortened to fit; an empty suffix is left out.
pub fn bucket_name(system: &str, account_or_suffix: &str) -> String {
    let head = format!("datomic-{system}-");
    let tail = "storage";
    let room = MAX_BUCKET_NAME_LEN.saturating_sub(head.len() + tail.len() + 1);
    let suffix = sanitize_bucket_part(account_or_suffix, room);
    if suffix.is_empty() {
        format!("{head}{tail}")
    } else {
        format!("{head}{suffix}-{tail}")
    }
}

/// Lowercase `a-z0-9` runs joined by single hyphens, at most `room` characters, no edge hyphens.
fn sanitize_bucket_part(s: &str, room: usize) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(room.min(out.len()));
    out.trim_end_matches('-').to_string()
}

/// DynamoDB table: `datomic-<system>`.
pub fn table_name(system: &str) -> String {
    format!("datomic-{system}")
}

/// The catalog's DynamoDB table: `datomic-<system>--catalog`. Joined with
/// `--` as a group is: with `-catalog`, system `a`'s catalog would be system
/// `a-catalog`'s log table.
pub fn catalog_table_name(system: &str) -> String {
    format!("{}{NAME_JOIN}catalog", table_name(system))
}

/// CloudWatch Logs log group: `datomic-<system>`, as Datomic names it.
pub fn log_group_name(system: &str) -> String {
    format!("datomic-{system}")
}

/// The log group's ARN (without the `:*` of its streams).
pub fn log_group_arn(partition: &str, region: &str, account: &str, system: &str) -> String {
    format!(
        "arn:{partition}:logs:{region}:{account}:log-group:{}",
        log_group_name(system)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_group_is_named_as_datomic_names_it() {
        assert_eq!(log_group_name("prod"), "datomic-prod");
        assert_eq!(
            log_group_arn("aws", "us-east-1", "1", "prod"),
            "arn:aws:logs:us-east-1:1:log-group:datomic-prod"
        );
    }

    #[test]
    fn the_catalog_table_never_takes_another_systems_name() {
        assert_eq!(catalog_table_name("prod"), "datomic-prod--catalog");
        // System names never contain `--`: no system's log table is a catalog.
        assert_ne!(catalog_table_name("a"), table_name("a-catalog"));
    }
    use crate::rules::{
        check_query_group_name, check_system_name, MAX_APPLICATION_NAME_LEN, PRIMARY_GROUP,
    };

    const LONGEST_SYSTEM: &str = "abcdefghijklmnopqrstuvwx";
    const LONGEST_GROUP: &str = "zyxwvutsrqponmlkjihgfedc";

    fn is_valid_bucket(b: &str) -> bool {
        (3..=63).contains(&b.len())
            && b.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !b.starts_with('-')
            && !b.ends_with('-')
            && !b.contains("--")
            && !b.starts_with("xn--")
            && !b.starts_with("sthree-")
            && !b.ends_with("-s3alias")
    }

    fn is_valid_iam_name(n: &str) -> bool {
        (1..=64).contains(&n.len())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    }

    #[test]
    fn derived_names_never_collide_across_systems() {
        // The collisions `<system>-<group>` allowed: system "a" with group
        // "b-primary" against system "a-b"'s primary group, and "a"/"b-c"
        // against "a-b"/"c".
        let pairs = [
            ("a", "b-primary"),
            ("a-b", PRIMARY_GROUP),
            ("a", "b-c"),
            ("a-b", "c"),
        ];
        for (i, (s1, g1)) in pairs.iter().enumerate() {
            for (s2, g2) in pairs.iter().skip(i + 1) {
                for f in [
                    asg_name,
                    load_balancer_security_group_name,
                    node_role_name,
                    launch_template_name,
                    load_balancer_name,
                ] {
                    assert_ne!(f(s1, g1), f(s2, g2), "{s1}/{g1} vs {s2}/{g2}");
                }
            }
        }
        // Names can never contain the separator, so it splits them back.
        assert!(check_system_name("a--b").is_err());
        assert!(check_query_group_name("b--c").is_err());
        let joined = asg_name("a-b", "c-d");
        assert_eq!(joined.split_once(NAME_JOIN), Some(("a-b", "c-d")));
    }
    #[test]
    fn aws_names() {
        assert_eq!(asg_name("prod", PRIMARY_GROUP), "prod--primary");
        assert_eq!(asg_name("prod", "analytics"), "prod--analytics");
        assert_eq!(launch_template_name("prod", "analytics"), "prod--analytics");
        assert_eq!(security_group_name("sg-x"), "datomic-sg-x-nodes");
        assert_eq!(
            load_balancer_security_group_name("prod", "analytics"),
            "datomic-prod--analytics-lb"
        );
        assert_eq!(node_role_name("prod", PRIMARY_GROUP), "prod--primary-node");
        assert_eq!(instance_profile_name("prod", "dev"), "prod--dev-node");
        assert_eq!(application_policy_name("web"), "datomic-app-web");
        assert_eq!(table_name("prod"), "datomic-prod");
        assert_eq!(
            bucket_name("prod", "123456789012"),
            "datomic-prod-123456789012-storage"
        );
        assert_eq!(bucket_name("prod", ""), "datomic-prod-storage");
        assert_eq!(
            bucket_name("prod", "--My_Suffix!!x--"),
            "datomic-prod-my-suffix-x-storage"
        );
        assert_eq!(
            bucket_name("prod", "-s3alias"),
            "datomic-prod-s3alias-storage"
        );
    }

    #[test]
    fn longest_names_stay_valid_aws_names() {
        assert!(check_system_name(LONGEST_SYSTEM).is_ok());
        assert!(check_query_group_name(LONGEST_GROUP).is_ok());
        let longest_app = "a".repeat(MAX_APPLICATION_NAME_LEN);
        for group in [LONGEST_GROUP, PRIMARY_GROUP] {
            assert!(is_valid_iam_name(&node_role_name(LONGEST_SYSTEM, group)));
            assert!(is_valid_iam_name(&instance_profile_name(
                LONGEST_SYSTEM,
                group
            )));
            assert!(launch_template_name(LONGEST_SYSTEM, group).len() <= 128);
            assert!(asg_name(LONGEST_SYSTEM, group).len() <= 255);
            let lb_sg = load_balancer_security_group_name(LONGEST_SYSTEM, group);
            assert!(lb_sg.len() <= 255 && !lb_sg.starts_with("sg-"));
            assert_ne!(lb_sg, security_group_name(LONGEST_SYSTEM));
        }
        assert!(application_policy_name(&longest_app).len() <= 128);
        assert!(security_group_name(LONGEST_SYSTEM).len() <= 255);
        assert!((3..=255).contains(&table_name(LONGEST_SYSTEM).len()));
        for suffix in [
            "123456789012",
            "",
            "x".repeat(200).as_str(),
            "ÄÖÜ-ß",
            "a-s3alias",
            "--x-s3",
        ] {
            for system in [LONGEST_SYSTEM, "a"] {
                let b = bucket_name(system, suffix);
                assert!(is_valid_bucket(&b), "{b}");
            }
        }
        assert_eq!(
            bucket_name(LONGEST_SYSTEM, "123456789012").len(),
            8 + 24 + 1 + 12 + 8
        );
    }
    #[test]
    fn load_balancer_names_fit_elb_rules() {
        // The value the acceptance tests' lb_name() computes too.
        assert_eq!(load_balancer_name("prod", "dev"), "prod-dev-50e0f299");
        assert_ne!(
            load_balancer_name("a", "b-primary"),
            load_balancer_name("a-b", PRIMARY_GROUP)
        );
        let long = load_balancer_name("abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx");
        assert!(long.len() <= 32, "{long}");
        assert!(long.starts_with("abcdefghijklmnopqrstuvw-"), "{long}");
        let other = load_balancer_name("abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwy");
        assert_ne!(long, other);
        let internal = load_balancer_name("internal-a", "primary");
        assert!(!internal.starts_with("internal-") && internal.len() <= 32);
        assert!(!long.contains("--") && !long.ends_with('-'));
    }
}
