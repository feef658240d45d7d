//! A revision uploaded by the provider (`datomic_application.package`): what
//! its hash looks like and what is said when the file, its hash or the code
//! bucket disagree. A revision is immutable, as ion push makes it: a key of
//! the code bucket is written once, and a different package needs a new
//! revision.

use base64::Engine;

use super::{q, revision_key, Violation};

/// The attribute naming the local zip.
pub const PACKAGE: &str = "package";
/// The attribute holding its SHA-256, base64 (`filebase64sha256`).
pub const PACKAGE_HASH: &str = "package_hash";

/// Bytes in a SHA-256 digest.
const SHA256_LEN: usize = 32;

/// A `package_hash` is a base64 SHA-256, as Terraform's
/// `filebase64sha256(path)` and S3's `ChecksumSHA256` write it.
pub fn check_package_hash(hash: &str) -> Result<(), Violation> {
    let ok = base64::engine::general_purpose::STANDARD
        .decode(hash)
        .is_ok_and(|b| b.len() == SHA256_LEN);
    if ok {
        Ok(())
    } else {
        Err(Violation::new(
            PACKAGE_HASH,
            "Invalid package hash",
            format!("{} is not a base64 SHA-256 (44 characters, as `filebase64sha256(\"<file>\")` gives). Leave it unset to let the provider compute it from `package`.", q(hash)),
        ))
    }
}

/// `package_hash` set without `package`: there is nothing to hash.
pub fn package_hash_without_package() -> Violation {
    Violation::new(
        PACKAGE_HASH,
        "Missing package",
        "`package_hash` is the hash of the zip `package` names: set `package` too, or remove `package_hash` (a revision pushed with ion push needs neither).",
    )
}

/// The file cannot be read (missing, a directory, no permission).
pub fn package_unreadable(path: &str, error: &str) -> Violation {
    Violation::new(
        PACKAGE,
        "Application package not readable",
        format!("The provider could not read the revision's zip {}: {error}. `package` is a path on the machine running Terraform, relative to the working directory (`path.module` helps).", q(path)),
    )
}

/// The configured hash is not the file's.
pub fn package_hash_mismatch(path: &str, configured: &str, actual: &str) -> Violation {
    Violation::new(
        PACKAGE_HASH,
        "Application package hash does not match",
        format!("The file {} has the SHA-256 {} (base64), not {}. Set `package_hash = filebase64sha256(\"{path}\")`, or leave it unset to let the provider compute it.", q(path), q(actual), q(configured)),
    )
}

/// The file changed between plan and apply: the plan showed another package.
pub fn package_changed_since_plan(path: &str, planned: &str, actual: &str) -> Violation {
    Violation::new(
        PACKAGE,
        "Application package changed after plan",
        format!("The file {} had the SHA-256 {} when planned and has {} now: nothing was uploaded. Plan again to upload what the file holds now.", q(path), q(planned), q(actual)),
    )
}

/// The code bucket holds other content under the revision's key.
pub fn revision_holds_other_package(
    application: &str,
    revision: &str,
    bucket: &str,
    found: &str,
    wanted: &str,
) -> Violation {
    let key = revision_key(application, revision);
    Violation::new(
        PACKAGE_HASH,
        "Revision already pushed with other content",
        format!("Revision {} of application {} is already in the code bucket (s3://{bucket}/{key}) with the SHA-256 {}, not this package's {}. A revision is immutable, as ion push makes it: give the new package a new `revision` (a git sha or a new uname). The provider never overwrites a revision.", q(revision), q(application), q(found), q(wanted)),
    )
}

/// S3 refused the upload because the bytes it received do not have the
/// checksum sent with them (the file changed while being read).
pub fn package_damaged_in_upload(path: &str, hash: &str) -> Violation {
    Violation::new(
        PACKAGE,
        "Application package changed while uploading",
        format!("S3 refused the upload of {}: the bytes it received do not have the SHA-256 {} the provider computed. Nothing was stored; make sure nothing writes the file during `terraform apply`, and apply again.", q(path), q(hash)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_a_base64_sha256() {
        // filebase64sha256 of the empty file.
        assert!(check_package_hash("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").is_ok());
        for bad in [
            "",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
            "not base64!",
            "AAAA",
        ] {
            let v = check_package_hash(bad).expect_err(bad);
            assert_eq!(v.attribute, PACKAGE_HASH);
        }
    }

    #[test]
    fn messages_name_the_attribute_and_the_fix() {
        let v = revision_holds_other_package("web", "r1", "bucket", "AAA=", "BBB=");
        assert_eq!(v.attribute, PACKAGE_HASH);
        assert!(v.detail.contains("s3://bucket/datomic/apps/web/r1.zip"));
        assert!(v.detail.contains("new `revision`"));
        let v = package_unreadable("app.zip", "No such file or directory");
        assert_eq!(v.attribute, PACKAGE);
        assert!(v.detail.contains("\"app.zip\""));
        let v = package_hash_mismatch("app.zip", "AAA=", "BBB=");
        assert!(v.detail.contains("filebase64sha256(\"app.zip\")"));
        assert_eq!(package_changed_since_plan("a", "x", "y").attribute, PACKAGE);
        assert_eq!(package_hash_without_package().attribute, PACKAGE_HASH);
        assert_eq!(package_damaged_in_upload("a", "x").attribute, PACKAGE);
    }
}
