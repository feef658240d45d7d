//! Client access to a system's load balancers (and through them to its
//! nodes): CIDR blocks, security group ids and the client port.

use super::Violation;

/// A warning for a client CIDR block open to the whole internet (`/0`):
/// allowed, as the nodes sit in private subnets behind an internal load
/// balancer, but rarely what a team means.
pub fn open_to_everyone(cidr: &str) -> Option<Violation> {
    let all = cidr
        .split_once('/')
        .is_some_and(|(ip, bits)| bits.trim() == "0" && (ip.contains('.') || ip.contains(':')));
    all.then(|| {
        Violation::new(
            "client_cidr_blocks",
            "Client access open to every address",
            format!("{cidr:?} admits clients from every address to port {CLIENT_PORT} of the system's load balancers. Allowed, but usually a narrower block (the clients' VPC or subnets) or client_security_group_ids is meant."),
        )
    })
}

/// A client CIDR block (`client_cidr_blocks`): IPv4 `a.b.c.d/n`.
pub fn check_cidr_block(index: usize, cidr: &str) -> Result<(), Violation> {
    let ok = cidr.split_once('/').is_some_and(|(ip, bits)| {
        ip.parse::<std::net::Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 32)
    });
    if ok {
        Ok(())
    } else {
        Err(Violation::new(
            "client_cidr_blocks",
            "Invalid CIDR block",
            format!("{cidr:?} is not an IPv4 CIDR block such as \"10.0.0.0/16\"."),
        )
        .at_index(index))
    }
}

/// A client security group id (`client_security_group_ids`): `sg-` and hex.
pub fn check_security_group_id(index: usize, id: &str) -> Result<(), Violation> {
    let hex = id.strip_prefix("sg-").unwrap_or_default();
    if !hex.is_empty() && hex.len() <= 17 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Violation::new(
            "client_security_group_ids",
            "Invalid security group id",
            format!("{id:?} is not a security group id such as \"sg-0123456789abcdef0\"."),
        )
        .at_index(index))
    }
}

/// The port Datomic clients connect to, on each compute group's load balancer.
pub const CLIENT_PORT: i32 = 8182;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_access_open_to_everyone_warns() {
        assert!(open_to_everyone("0.0.0.0/0").is_some());
        assert!(open_to_everyone("::/0").is_some());
        assert!(open_to_everyone("10.0.0.0/8").is_none());
        assert!(open_to_everyone("10.0.0.0/0x").is_none());
    }

    #[test]
    fn client_access_values() {
        assert!(check_cidr_block(0, "10.0.0.0/16").is_ok());
        assert!(check_cidr_block(0, "0.0.0.0/0").is_ok());
        for bad in ["10.0.0.0", "10.0.0.0/33", "300.0.0.0/8", "", "x/8"] {
            assert_eq!(
                check_cidr_block(1, bad).unwrap_err().index,
                Some(1),
                "{bad}"
            );
        }
        assert!(check_security_group_id(0, "sg-0123456789abcdef0").is_ok());
        for bad in ["sg-", "0123", "sg-xyz", "sg-0123456789abcdef01"] {
            assert!(check_security_group_id(0, bad).is_err(), "{bad}");
        }
    }
}
