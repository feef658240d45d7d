//! The AWS regions the provider accepts without `skip_region_validation`:
//! every partition's regions, as the AWS SDKs' partition table lists them
//! (the AWS provider validates `region` the same way). A region AWS opened
//! after this table was written needs `skip_region_validation = true`.

/// (partition, its regions). From the SDK's partition table (the
/// `*-global` pseudo-regions left out: nothing runs there).
pub const PARTITIONS: &[(&str, &[&str])] = &[
    (
        "aws",
        &[
            "af-south-1",
            "ap-east-1",
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-6",
            "ap-southeast-7",
            "ca-central-1",
            "ca-west-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "me-south-1",
            "mx-central-1",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ],
    ),
    ("aws-cn", &["cn-north-1", "cn-northwest-1"]),
    ("aws-eusc", &["eusc-de-east-1"]),
    ("aws-iso", &["us-iso-east-1", "us-iso-west-1"]),
    ("aws-iso-b", &["us-isob-east-1", "us-isob-west-1"]),
    ("aws-iso-e", &["eu-isoe-west-1"]),
    ("aws-iso-f", &["us-isof-east-1", "us-isof-south-1"]),
    ("aws-us-gov", &["us-gov-east-1", "us-gov-west-1"]),
];

/// Every known region.
pub fn all() -> impl Iterator<Item = &'static str> {
    PARTITIONS.iter().flat_map(|(_, rs)| rs.iter().copied())
}

/// Whether `region` is a region of one of the partitions.
pub fn is_known(region: &str) -> bool {
    all().any(|r| r == region)
}

/// The known region closest to `region` (at most two edits away, a swap of
/// neighbouring letters counting as one), for "did you mean ...?".
pub fn closest(region: &str) -> Option<&'static str> {
    let wanted = region.to_ascii_lowercase();
    all()
        .map(|r| (edit_distance(&wanted, r), r))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, r)| r)
}

/// Optimal string alignment distance: insertions, deletions, substitutions
/// and transpositions of adjacent characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_regions() {
        for r in ["us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1"] {
            assert!(is_known(r), "{r}");
        }
        for r in ["us-eats-1", "us-east-9", "", "US-EAST-1", "aws-global"] {
            assert!(!is_known(r), "{r}");
        }
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(closest("us-eats-1"), Some("us-east-1"));
        assert_eq!(closest("eu-wset-1"), Some("eu-west-1"));
        assert_eq!(closest("us-east1"), Some("us-east-1"));
        assert_eq!(closest("US-EAST-2"), Some("us-east-2"));
        assert_eq!(closest("mars-north-7"), None);
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "acb"), 1);
        assert_eq!(edit_distance("abc", "ab"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
