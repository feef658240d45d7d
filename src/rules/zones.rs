//! How many availability zones a system's own network spans.
//!
//! Datomic's storage stack makes a subnet in each of three availability
//! zones; a region with only two gets two. A network the user brings is
//! checked against [`MIN_ZONES`] only.

/// The zones a system's own network spans where the region has them.
pub const WANTED_ZONES: usize = 3;
/// The fewest zones a system spreads its nodes over (own or brought network).
pub const MIN_ZONES: usize = 2;

/// How many zones a system's own network spans in a region with `available`
/// zones: [`WANTED_ZONES`], or all of them where there are fewer; `None`
/// when the region has fewer than [`MIN_ZONES`].
pub fn zone_count(available: usize) -> Option<usize> {
    (available >= MIN_ZONES).then(|| available.min(WANTED_ZONES))
}

/// Whether a system's own network of `have` subnets (one per zone) lacks
/// zones the region has (`available`): an earlier build made two.
pub fn lacks_zones(have: usize, available: usize) -> bool {
    zone_count(available).is_some_and(|want| have < want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_zones_where_the_region_has_them_two_where_it_has_two() {
        assert_eq!(zone_count(6), Some(3));
        assert_eq!(zone_count(3), Some(3));
        assert_eq!(zone_count(2), Some(2));
        assert_eq!(zone_count(1), None);
        assert_eq!(zone_count(0), None);
    }

    #[test]
    fn a_two_zone_network_lacks_a_zone_only_where_a_third_exists() {
        assert!(lacks_zones(2, 3));
        assert!(lacks_zones(2, 6));
        assert!(!lacks_zones(3, 6));
        assert!(!lacks_zones(2, 2));
        // A region without enough zones asks for nothing more.
        assert!(!lacks_zones(0, 1));
    }
}
