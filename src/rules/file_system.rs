//! The names of a system's EFS file system and its mount targets' security
//! group (see DATOMIC-CLOUD.md: Datomic's storage stack holds a file system).

/// The NFS port the mount targets admit the nodes on.
pub const NFS_PORT: i32 = 2049;

/// The file system's `Name` tag and creation token: `datomic-<system>`. As
/// the token, it makes a create retried after a lost answer find the first
/// file system instead of making a second.
pub fn file_system_name(system: &str) -> String {
    format!("datomic-{system}")
}

/// The mount targets' security group: `datomic-<system>--efs` (joined with
/// `--`, which no system name holds, so that no system's group is another's).
pub fn file_system_security_group_name(system: &str) -> String {
    format!("datomic-{system}{}efs", super::NAME_JOIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_system_and_its_group_are_named_after_the_system() {
        assert_eq!(file_system_name("prod"), "datomic-prod");
        assert_eq!(file_system_security_group_name("prod"), "datomic-prod--efs");
        // Within EFS's 64-character creation token for the longest system name.
        assert!(file_system_name(&"a".repeat(24)).len() <= 64);
    }
}
