//! AWS errors, classified the way the resources need: "not found" (read
//! removes from state, delete counts as done), retryable eventual
//! consistency, or everything else.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct AwsError {
    /// The AWS error code, e.g. `NoSuchEntity`, when AWS sent one.
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn new(code: Option<&str>, message: impl Into<String>) -> Self {
        AwsError {
            code: code.map(str::to_string),
            message: message.into(),
        }
    }

    pub fn from_sdk<E, R>(e: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let code = e.code().map(str::to_string);
        let message = match (&e, e.message()) {
            (SdkError::ServiceError(_), Some(m)) => {
                format!("{}: {m}", code.as_deref().unwrap_or("error"))
            }
            _ => {
                // Walk the source chain for transport errors (connection refused, timeouts).
                let mut s = e.to_string();
                let mut src: Option<&(dyn std::error::Error + 'static)> =
                    std::error::Error::source(&e);
                while let Some(x) = src {
                    s.push_str(": ");
                    s.push_str(&x.to_string());
                    src = x.source();
                }
                s
            }
        };
        AwsError { code, message }
    }

    pub fn code_is(&self, codes: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| codes.contains(&c))
    }

    /// The object exists already: a create that was retried after its
    /// response was lost, or an object left by an interrupted run.
    /// Never S3's `BucketAlreadyExists`: that bucket is another account's.
    pub fn is_already_exists(&self) -> bool {
        self.code.as_deref().is_some_and(|c| {
            (c.contains("AlreadyExists") && c != "BucketAlreadyExists")
                || matches!(
                    c,
                    "EntityAlreadyExists"
                        | "InvalidGroup.Duplicate"
                        | "InvalidPermission.Duplicate"
                        | "BucketAlreadyOwnedByYou"
                        | "ResourceInUseException"
                )
        })
    }

    /// Ok(()) for success or "already exists".
    pub fn tolerate_exists(r: Result<(), AwsError>) -> Result<(), AwsError> {
        match r {
            Err(e) if e.is_already_exists() => Ok(()),
            other => other,
        }
    }

    /// The object does not exist (any service's spelling of it).
    pub fn is_not_found(&self) -> bool {
        self.code.as_deref().is_some_and(|c| {
            c.ends_with(".NotFound")
                || c.ends_with("NotFound")
                || c.ends_with("NotFoundException")
                || matches!(
                    c,
                    "NoSuchEntity"
                        | "NoSuchBucket"
                        | "ResourceNotFoundException"
                        | "InvalidGroup.NotFound"
                )
        })
    }
}

/// Absence as an answer, for look-ups and deletes: "not found" becomes
/// `Ok(None)`, any other error stays an error.
pub trait Found<T> {
    fn found(self) -> Result<Option<T>, AwsError>;
}

impl<T> Found<T> for Result<T, AwsError> {
    fn found(self) -> Result<Option<T>, AwsError> {
        match self {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_codes() {
        for c in [
            "NoSuchEntity",
            "InvalidVpcID.NotFound",
            "ResourceNotFoundException",
            "NoSuchBucket",
        ] {
            assert!(AwsError::new(Some(c), "x").is_not_found(), "{c}");
        }
        assert!(!AwsError::new(Some("Throttling"), "x").is_not_found());
        assert!(!AwsError::new(None, "x").is_not_found());
    }

    #[test]
    fn found_turns_only_absence_into_none() {
        assert_eq!(Ok::<_, AwsError>(3).found().ok(), Some(Some(3)));
        let missing: Result<(), _> = Err(AwsError::new(Some("NoSuchEntity"), "gone"));
        assert_eq!(missing.found().ok(), Some(None));
        let other: Result<(), _> = Err(AwsError::new(Some("AccessDenied"), "no"));
        assert_eq!(
            other.found().map_err(|e| e.code),
            Err(Some("AccessDenied".into()))
        );
    }

    #[test]
    fn already_exists_codes() {
        for c in [
            "EntityAlreadyExists",
            "AlreadyExists",
            "InvalidLaunchTemplateName.AlreadyExistsException",
            "InvalidGroup.Duplicate",
            "BucketAlreadyOwnedByYou",
            "ResourceInUseException",
        ] {
            assert!(AwsError::new(Some(c), "x").is_already_exists(), "{c}");
        }
        assert!(AwsError::tolerate_exists(Err(AwsError::new(Some("AlreadyExists"), "x"))).is_ok());
        // Another account's bucket is never "ours already".
        assert!(!AwsError::new(Some("BucketAlreadyExists"), "x").is_already_exists());
        assert!(AwsError::tolerate_exists(Err(AwsError::new(Some("Throttling"), "x"))).is_err());
    }
}
