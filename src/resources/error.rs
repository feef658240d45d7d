//! The resources layer's error: how an operation on a Datomic resource can
//! fail. AWS's own answers stay [`AwsError`] (with their code); what the
//! provider decides on top of them (a deadline passed, Terraform asked to
//! stop, an object that is not ours, a wait that gave up) has its own
//! variant, so no caller recognises a failure by its text.

use std::time::Duration;

use crate::aws::wait::WaitError;
use crate::aws::AwsError;

/// What a failed operation leaves behind, said in every timeout and
/// interruption.
const KEPT: &str = "What was made so far is kept in the state (tainted) or found again by its tags on the next apply.";

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// AWS refused or failed a request.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The operation's `timeouts` deadline passed.
    #[error("timeout while waiting for the {operation} to finish: it took longer than {} (timeouts.{operation}).{} {KEPT}", human(*.limit), at(.step))]
    Timeout {
        operation: &'static str,
        limit: Duration,
        /// What the operation was doing (see `aws::step`).
        step: Option<String>,
    },
    /// Terraform asked the provider to stop (StopProvider).
    #[error("interrupted: Terraform asked the provider to stop.{} {KEPT}", at(.step))]
    Cancelled { step: Option<String> },
    /// A wait inside the operation ran out of its own time or was stopped.
    #[error(transparent)]
    Wait(WaitError<AwsError>),
    /// An AWS object with our name that its identity tags say is not ours.
    #[error(transparent)]
    NotOurs(#[from] NotOurs),
    /// An object the operation works on disappeared while it ran (deleted
    /// outside Terraform, or not visible right after a write).
    #[error("{0}")]
    Vanished(String),
    /// AWS lacks what the operation needs (e.g. a region with fewer than
    /// two availability zones).
    #[error("{0}")]
    Unsupported(String),
    /// A CodeDeploy deployment ended without success: CodeDeploy's error,
    /// the failed lifecycle event and the rollback, in words.
    #[error("{0}")]
    Deployment(String),
    /// No image to run the nodes on was found.
    #[error("no Amazon Linux image found in {region}; set image_id")]
    NoImage { region: String },
    /// A request the SDK refused to build: a bug of the provider.
    #[error("could not build the {service} request: {source}")]
    Request {
        service: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// An AWS object that has our name but not our identity tags (see
/// `resources::ownership`): never adopted, changed or deleted.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct NotOurs {
    /// The object, its owner tags and what the user may do, in a sentence.
    pub detail: String,
}

impl From<WaitError<AwsError>> for OpError {
    /// A poll's own AWS error stays an AWS error (with its code).
    fn from(e: WaitError<AwsError>) -> Self {
        match e {
            WaitError::Failed(e) => OpError::Aws(e),
            other => OpError::Wait(other),
        }
    }
}

/// A wait whose polls fail with the layer's own error.
impl From<WaitError<OpError>> for OpError {
    fn from(e: WaitError<OpError>) -> Self {
        match e {
            WaitError::Failed(e) => e,
            WaitError::Timeout(d, what) => OpError::Wait(WaitError::Timeout(d, what)),
            WaitError::Cancelled(what) => OpError::Wait(WaitError::Cancelled(what)),
            WaitError::Stuck(what, why) => OpError::Wait(WaitError::Stuck(what, why)),
        }
    }
}

impl OpError {
    /// A request builder's error (a required member left unset).
    pub fn request(
        service: &'static str,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        OpError::Request {
            service,
            source: Box::new(e),
        }
    }

    /// AWS's answer, when the failure is one.
    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            OpError::Aws(e) => Some(e),
            _ => None,
        }
    }

    /// AWS answered that the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.aws().is_some_and(AwsError::is_not_found)
    }

    /// AWS answered with one of `codes`.
    pub fn code_is(&self, codes: &[&str]) -> bool {
        self.aws().is_some_and(|e| e.code_is(codes))
    }

    /// Ok(()) for success or AWS's "already exists".
    pub fn tolerate_exists(r: Result<(), OpError>) -> Result<(), OpError> {
        match r {
            Err(e) if e.aws().is_some_and(AwsError::is_already_exists) => Ok(()),
            other => other,
        }
    }
}

/// Absence as an answer, as [`crate::aws::Found`] for AWS's own errors.
impl<T> crate::aws::Found<T> for Result<T, OpError> {
    type Error = OpError;
    fn found(self) -> Result<Option<T>, OpError> {
        match self {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn at(step: &Option<String>) -> String {
    step.as_ref()
        .map(|s| format!(" It was {s}."))
        .unwrap_or_default()
}

/// A duration as Terraform users write it in `timeouts`: "1s", "20m", "1h30m".
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Found;
    use std::error::Error;

    #[test]
    fn a_timeout_names_its_limit_and_step_and_is_not_not_found() {
        let e = OpError::Timeout {
            operation: "create",
            limit: Duration::from_secs(90),
            step: Some("waiting for 3 nodes".into()),
        };
        let s = e.to_string();
        assert!(s.contains("longer than 1m30s (timeouts.create)"), "{s}");
        assert!(s.contains("It was waiting for 3 nodes."), "{s}");
        assert!(!e.is_not_found());
    }

    #[test]
    fn aws_answers_keep_their_code_through_waits() {
        let e: OpError = WaitError::Failed(AwsError::new(Some("NoSuchEntity"), "x")).into();
        assert!(e.is_not_found());
        let e: OpError = WaitError::<AwsError>::Cancelled("nodes".into()).into();
        assert!(matches!(e, OpError::Wait(_)));
        assert!(!e.is_not_found());
        let missing: Result<(), OpError> = Err(AwsError::new(Some("NoSuchBucket"), "x").into());
        assert!(matches!(missing.found(), Ok(None)));
    }

    #[test]
    fn request_errors_keep_their_source() {
        let e = OpError::request("S3", std::io::Error::other("bucket is required"));
        assert!(e.source().is_some());
        assert!(e.to_string().contains("S3 request"), "{e}");
    }

    #[test]
    fn durations_read_as_in_timeouts() {
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
        assert_eq!(human(Duration::from_secs(5400 + 7)), "1h30m7s");
        assert_eq!(human(Duration::from_secs(1)), "1s");
        assert_eq!(human(Duration::from_millis(200)), "200ms");
        assert_eq!(human(Duration::from_secs(20 * 60)), "20m");
    }
}
