//! A revision uploaded from a local zip (`datomic_application.package`), for
//! users without Datomic's ion tooling: the provider puts it where ion push
//! would, `datomic/apps/<application>/<revision>.zip` in the code bucket.
//!
//! A revision is immutable, as ion push makes it: a key is written once
//! (`If-None-Match: *`, so a write racing ours is never overwritten), the
//! same content found there is fine (an apply run again), other content is
//! refused. S3 checks the bytes it receives against the SHA-256 the provider
//! computed (`ChecksumSHA256`), and keeps it: a later look at the key reads
//! it back without downloading the object.

use std::io::Read;
use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::aws::error::code;
use crate::aws::{AwsError, Clients};
use crate::resources::error::OpError;
use crate::rules::{self, Violation};

use super::code_bucket;

/// Read size when hashing a file.
const CHUNK: usize = 1 << 16;

fn encode(digest: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(digest)
}

fn hash_reader(mut r: impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        match r.read(&mut buf)? {
            0 => return Ok(encode(&h.finalize())),
            n => h.update(&buf[..n]),
        }
    }
}

fn hash_path(path: &Path) -> std::io::Result<String> {
    hash_reader(std::fs::File::open(path)?)
}

/// The file's SHA-256, base64 (what `filebase64sha256` gives); the reason
/// when it cannot be read. Read off the async workers: a zip can be large.
pub async fn hash_file(path: &str) -> Result<String, String> {
    let p = PathBuf::from(path);
    match tokio::task::spawn_blocking(move || hash_path(&p)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// The SHA-256 of what the bucket holds under `key`; None when nothing. S3's
/// own checksum when the object was stored with a full-object SHA-256 (as
/// this module stores them), else the object is read and hashed (a revision
/// ion push put there).
async fn stored_hash(c: &Clients, bucket: &str, key: &str) -> Result<Option<String>, OpError> {
    let account = c.account().await?;
    let head =
        c.s3.head_object()
            .bucket(bucket)
            .key(key)
            .expected_bucket_owner(&account)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
    let head = match head.map_err(AwsError::from_sdk) {
        Ok(h) => h,
        Err(e) if e.is_http_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let composite = head.checksum_type() == Some(&ChecksumType::Composite);
    if let Some(sum) = head
        .checksum_sha256()
        .filter(|s| !composite && !s.contains('-'))
    {
        return Ok(Some(sum.to_string()));
    }
    let got =
        c.s3.get_object()
            .bucket(bucket)
            .key(key)
            .expected_bucket_owner(&account)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    let mut body = got.body;
    let mut h = Sha256::new();
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| OpError::request("S3", e))?
    {
        h.update(&chunk);
    }
    Ok(Some(encode(&h.finalize())))
}

/// Same content, or the violation naming both hashes.
fn compare(
    application: &str,
    revision: &str,
    bucket: &str,
    found: &str,
    hash: &str,
) -> Result<(), Violation> {
    if found == hash {
        Ok(())
    } else {
        Err(rules::revision_holds_other_package(
            application,
            revision,
            bucket,
            found,
            hash,
        ))
    }
}

/// Where a package stands at plan: None when it cannot be told (no code
/// bucket yet) or the key is free; else whether the bucket's content there
/// is this package.
pub async fn check_at_plan(
    c: &Clients,
    application: &str,
    revision: &str,
    hash: &str,
) -> Result<Option<Result<(), Violation>>, OpError> {
    let bucket = code_bucket::name(c).await?;
    if !code_bucket::exists(c, &bucket).await? {
        return Ok(None);
    }
    let key = rules::revision_key(application, revision);
    Ok(stored_hash(c, &bucket, &key)
        .await?
        .map(|found| compare(application, revision, &bucket, &found, hash)))
}

/// Puts the package at the revision's key of the code bucket (made when
/// missing) unless that key holds it already. `hash` is the one planned:
/// the file is hashed again first, and a file changed since the plan is
/// refused before anything is written. Returns the bucket.
pub async fn upload(
    c: &Clients,
    application: &str,
    revision: &str,
    path: &str,
    hash: &str,
) -> Result<Result<String, Violation>, OpError> {
    match hash_file(path).await {
        Ok(now) if now == hash => {}
        Ok(now) => return Ok(Err(rules::package_changed_since_plan(path, hash, &now))),
        Err(e) => return Ok(Err(rules::package_unreadable(path, &e))),
    }
    let bucket = code_bucket::ensure(c).await?;
    let key = rules::revision_key(application, revision);
    if let Some(found) = stored_hash(c, &bucket, &key).await? {
        return Ok(compare(application, revision, &bucket, &found, hash).map(|_| bucket));
    }
    let body = match ByteStream::from_path(path).await {
        Ok(b) => b,
        Err(e) => return Ok(Err(rules::package_unreadable(path, &e.to_string()))),
    };
    let account = c.account().await?;
    let put =
        c.s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .expected_bucket_owner(&account)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(hash)
            .if_none_match("*")
            .content_type("application/zip")
            .body(body)
            .send()
            .await
            .map_err(AwsError::from_sdk);
    match put {
        Ok(_) => Ok(Ok(bucket)),
        Err(e) if e.code_is(&[code::BAD_DIGEST]) => {
            Ok(Err(rules::package_damaged_in_upload(path, hash)))
        }
        // Written meanwhile (another apply, an ion push): theirs stays.
        Err(e)
            if e.code_is(&[
                code::PRECONDITION_FAILED,
                code::CONDITIONAL_REQUEST_CONFLICT,
            ]) =>
        {
            match stored_hash(c, &bucket, &key).await? {
                Some(found) => {
                    Ok(compare(application, revision, &bucket, &found, hash).map(|_| bucket))
                }
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_filebase64sha256() {
        // Terraform's filebase64sha256 of an empty file and of "abc".
        assert_eq!(
            hash_reader(&b""[..]).ok().as_deref(),
            Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
        );
        assert_eq!(
            hash_reader(&b"abc"[..]).ok().as_deref(),
            Some("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        );
        // Longer than one read.
        let big = vec![7u8; CHUNK * 2 + 5];
        let mut h = Sha256::new();
        h.update(&big);
        assert_eq!(hash_reader(&big[..]).ok(), Some(encode(&h.finalize())));
        assert!(rules::check_package_hash(&hash_reader(&big[..]).unwrap_or_default()).is_ok());
    }

    #[tokio::test]
    async fn a_missing_file_says_why() {
        let e = hash_file("/nonexistent/app.zip")
            .await
            .expect_err("missing");
        assert!(e.contains("No such file"), "{e}");
        let e = hash_file("/").await.expect_err("a directory");
        assert!(!e.is_empty());
    }
}
