//! Which finished compute groups this working directory created: the
//! evidence that lets an apply take over a group whose create finished on
//! AWS but never reached the Terraform state.
//!
//! A create marks its Auto Scaling group finished with a `datomic:created`
//! tag (see [`crate::rules::TAG_CREATED`]). If the provider dies after that
//! tag was written and before Terraform recorded the result, the group is
//! complete but untracked; a group like that cannot be told apart, on AWS
//! alone, from a group another state manages. So the tag's value is a token
//! that the create first writes to this journal, a file under Terraform's
//! data directory (`TF_DATA_DIR`, by default `.terraform/`, in the working
//! directory Terraform runs the provider in):
//!
//! - the next create of the same group from the same working directory
//!   finds the token in both places and adopts the group;
//! - any other state or working directory holds no such token and is
//!   refused, as before (it must import the group);
//! - the entry is dropped once the resource is read from a state (it is
//!   tracked from then on) or deleted.
//!
//! The journal is best effort: when the directory cannot be written, the
//! create goes on and only loses this recovery (the next apply asks for an
//! import instead of adopting).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::plugin::log;

/// The journal's directory: `$TF_DATA_DIR/datomic/created`, where Terraform
/// keeps a working directory's local data (`.terraform` unless overridden).
fn dir() -> PathBuf {
    let data = std::env::var_os("TF_DATA_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".terraform"));
    data.join("datomic").join("created")
}

fn entry(dir: &std::path::Path, asg: &str) -> Option<PathBuf> {
    // Auto Scaling group names are the rules' `<system>--<group>` and bucket
    // names `datomic-<system>-<account>-storage`: lowercase
    // letters, digits and hyphens; anything else is never a file name here.
    let safe = !asg.is_empty()
        && asg
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    safe.then(|| dir.join(asg))
}

/// A token no other create uses: the time in nanoseconds and the process id.
fn new_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}-{:x}", std::process::id())
}

/// The token to tag `asg` with as finished, written to the journal first
/// (an existing entry's token is kept).
pub fn remember(asg: &str) -> String {
    remember_in(&dir(), asg)
}

/// The token this working directory holds for `asg`, if any.
pub fn recall(asg: &str) -> Option<String> {
    recall_in(&dir(), asg)
}

/// Drops the entry of `asg`: the group is tracked by a state (or gone).
pub fn forget(asg: &str) {
    forget_in(&dir(), asg)
}

fn remember_in(dir: &std::path::Path, asg: &str) -> String {
    if let Some(token) = recall_in(dir, asg) {
        return token;
    }
    let token = new_token();
    let Some(path) = entry(dir, asg) else {
        return token;
    };
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        // Write then rename: an entry is whole or absent, even if the
        // provider dies in between.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &token)?;
        std::fs::rename(&tmp, &path)
    });
    if let Err(e) = written {
        log::warn(
            "could not remember the create in the working directory; if this apply is interrupted, the next one asks to import the group",
            &[
                ("path", &path.display().to_string()),
                ("error", &e.to_string()),
            ],
        );
    }
    token
}

fn recall_in(dir: &std::path::Path, asg: &str) -> Option<String> {
    let token = std::fs::read_to_string(entry(dir, asg)?).ok()?;
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

fn forget_in(dir: &std::path::Path, asg: &str) {
    if let Some(path) = entry(dir, asg) {
        match std::fs::remove_file(&path) {
            Ok(()) => log::debug(
                "the group is tracked by the state: dropped its create from the journal",
                &[("path", &path.display().to_string())],
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::debug(
                "could not drop a create from the journal",
                &[
                    ("path", &path.display().to_string()),
                    ("error", &e.to_string()),
                ],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "datomic-journal-{name}-{}-{}",
            std::process::id(),
            new_token()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn remembers_one_token_per_group_until_forgotten() {
        let dir = temp_dir("cycle");
        assert_eq!(recall_in(&dir, "prod-primary"), None);
        let token = remember_in(&dir, "prod-primary");
        assert_eq!(recall_in(&dir, "prod-primary"), Some(token.clone()));
        // A retried create keeps the token an interrupted one tagged with.
        assert_eq!(remember_in(&dir, "prod-primary"), token);
        // Other groups have their own entries.
        assert_eq!(recall_in(&dir, "prod-analytics"), None);
        let other = remember_in(&dir, "prod-analytics");
        assert_ne!(other, token);
        forget_in(&dir, "prod-primary");
        assert_eq!(recall_in(&dir, "prod-primary"), None);
        assert_eq!(recall_in(&dir, "prod-analytics"), Some(other));
        forget_in(&dir, "prod-primary"); // twice is fine
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn names_that_are_not_group_names_are_never_paths() {
        let dir = temp_dir("names");
        for bad in ["", "../x", "a/b", "Prod-primary", "x.tmp"] {
            assert_eq!(entry(&dir, bad), None, "{bad:?}");
            let _ = remember_in(&dir, bad);
            assert_eq!(recall_in(&dir, bad), None, "{bad:?}");
        }
        assert!(!dir.exists(), "nothing written for bad names");
    }

    #[test]
    fn an_unwritable_journal_still_gives_a_token() {
        // A file where the directory should be: nothing can be written.
        let blocker = temp_dir("blocked");
        std::fs::write(&blocker, "not a directory").unwrap();
        let token = remember_in(&blocker.join("created"), "prod-primary");
        assert!(!token.is_empty());
        assert_eq!(recall_in(&blocker.join("created"), "prod-primary"), None);
        let _ = std::fs::remove_file(&blocker);
    }
}
