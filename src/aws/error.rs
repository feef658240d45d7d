//! AWS errors, classified the way the resources need: "not found" (read
//! removes from state, delete counts as done), retryable eventual
//! consistency, or everything else.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The AWS error codes (and the few message needles) the provider acts on,
/// in one place: no call site matches an error by free text.
pub mod code {
    /// IAM: no such role, policy or instance profile.
    pub const NO_SUCH_ENTITY: &str = "NoSuchEntity";
    /// IAM: a request refused as invalid (also, with
    /// [`NOT_ATTACHABLE_NEEDLE`], a managed policy not usable yet).
    pub const INVALID_INPUT: &str = "InvalidInput";
    /// IAM: a managed policy just made and not yet usable (or missing).
    pub const NOT_ATTACHABLE_NEEDLE: &str = "does not exist or is not attachable";
    /// IAM: another write of the same entity is under way.
    pub const CONCURRENT_MODIFICATION: &str = "ConcurrentModification";
    /// IAM: a delete refused while something is still attached.
    pub const DELETE_CONFLICT: &str = "DeleteConflict";
    /// IAM: e.g. five versions of a managed policy already.
    pub const LIMIT_EXCEEDED: &str = "LimitExceeded";
    /// EC2: a delete refused while network interfaces remain.
    pub const DEPENDENCY_VIOLATION: &str = "DependencyViolation";
    /// EC2: a subnet's CIDR block overlaps another's.
    pub const SUBNET_CONFLICT: &str = "InvalidSubnet.Conflict";
    /// EC2: a security group id not (yet) known.
    pub const SECURITY_GROUP_NOT_FOUND: &str = "InvalidGroup.NotFound";
    /// Auto Scaling and ELB: a request refused as invalid; Auto Scaling also
    /// says "not found" this way (see [`super::AwsError::is_autoscaling_not_found`]).
    pub const VALIDATION_ERROR: &str = "ValidationError";
    /// ELB: a target group still used by a listener, or a load balancer
    /// still being changed.
    pub const RESOURCE_IN_USE: &str = "ResourceInUse";
    /// S3: a bucket without tags.
    pub const NO_SUCH_TAG_SET: &str = "NoSuchTagSet";
    /// S3: no such bucket.
    pub const NO_SUCH_BUCKET: &str = "NoSuchBucket";
    /// S3: the bucket name is taken by another account.
    pub const BUCKET_ALREADY_EXISTS: &str = "BucketAlreadyExists";
    /// S3: this account made the bucket already.
    pub const BUCKET_ALREADY_OWNED_BY_YOU: &str = "BucketAlreadyOwnedByYou";
    /// S3: the body does not have the checksum sent with it.
    pub const BAD_DIGEST: &str = "BadDigest";
    /// S3: a conditional write (`If-None-Match: *`) found the key taken, or
    /// raced another write of it.
    pub const PRECONDITION_FAILED: &str = "PreconditionFailed";
    pub const CONDITIONAL_REQUEST_CONFLICT: &str = "ConditionalRequestConflict";
    /// DynamoDB: the table exists, or is being changed.
    pub const RESOURCE_IN_USE_EXCEPTION: &str = "ResourceInUseException";
    /// DynamoDB and others: no such resource.
    pub const RESOURCE_NOT_FOUND_EXCEPTION: &str = "ResourceNotFoundException";
    /// IAM: an entity with that name exists already.
    pub const ENTITY_ALREADY_EXISTS: &str = "EntityAlreadyExists";
    /// EC2: a security group with that name exists in the VPC.
    pub const SECURITY_GROUP_DUPLICATE: &str = "InvalidGroup.Duplicate";
    /// EC2: the ingress rule exists already.
    pub const PERMISSION_DUPLICATE: &str = "InvalidPermission.Duplicate";

    /// SSM: no such parameter (a read or delete).
    pub const PARAMETER_NOT_FOUND: &str = "ParameterNotFound";
    /// SSM: a parameter of that name exists (a put without Overwrite).
    pub const PARAMETER_ALREADY_EXISTS: &str = "ParameterAlreadyExists";
    /// SSM: no such parameter (a tag look-up).
    pub const INVALID_RESOURCE_ID: &str = "InvalidResourceId";
    /// IAM CreateServiceLinkedRole (code INVALID_INPUT): the role exists already.
    pub const SERVICE_ROLE_TAKEN_NEEDLE: &str = "has been taken";
    /// KMS: a key policy refused, e.g. naming a principal IAM does not show yet.
    pub const KMS_MALFORMED_POLICY: &str = "MalformedPolicyDocumentException";
    /// KMS: the key's state forbids the call (e.g. already pending deletion).
    pub const KMS_INVALID_STATE: &str = "KMSInvalidStateException";

    /// Route53: no such hosted zone (a read, tag look-up or delete).
    pub const NO_SUCH_HOSTED_ZONE: &str = "NoSuchHostedZone";
    /// Route53: a change batch refused, e.g. a DELETE of a record that is
    /// no longer there (with [`RECORD_NOT_FOUND_NEEDLE`]).
    pub const INVALID_CHANGE_BATCH: &str = "InvalidChangeBatch";
    /// Route53's message for a DELETE of a record set that does not exist.
    pub const RECORD_NOT_FOUND_NEEDLE: &str = "not found";
    /// Route53: a hosted zone was made with that caller reference already
    /// (a retried create whose first answer was lost).
    pub const HOSTED_ZONE_ALREADY_EXISTS: &str = "HostedZoneAlreadyExists";

    /// Auto Scaling's message for a group, policy or configuration that does
    /// not exist (its code is [`VALIDATION_ERROR`]).
    pub const AUTOSCALING_NOT_FOUND_NEEDLE: &str = "not found";
    /// Auto Scaling's message when an instance profile is not yet usable
    /// (IAM propagation), code [`VALIDATION_ERROR`].
    pub const INVALID_INSTANCE_PROFILE_NEEDLE: &str = "Invalid IAM Instance Profile";
    /// CodeDeploy: no such application, deployment group or deployment.
    pub const APPLICATION_DOES_NOT_EXIST: &str = "ApplicationDoesNotExistException";
    pub const DEPLOYMENT_GROUP_DOES_NOT_EXIST: &str = "DeploymentGroupDoesNotExistException";
    pub const DEPLOYMENT_DOES_NOT_EXIST: &str = "DeploymentDoesNotExistException";
    /// CodeDeploy: the deployment group already runs a deployment.
    pub const DEPLOYMENT_LIMIT_EXCEEDED: &str = "DeploymentLimitExceededException";
    /// CodeDeploy cannot assume a service role (yet: IAM propagation).
    pub const INVALID_ROLE: &str = "InvalidRoleException";
    /// What an S3 HeadBucket of a missing bucket says: it has no body, so no
    /// code, only its status.
    pub const HTTP_NOT_FOUND_NEEDLE: &str = "404";
    /// EFS: a mount target exists in that availability zone already (a
    /// create retried after a lost answer).
    pub const MOUNT_TARGET_CONFLICT: &str = "MountTargetConflict";
    /// EC2: a rule revoked that the group does not have.
    pub const PERMISSION_NOT_FOUND: &str = "InvalidPermission.NotFound";
    /// CloudWatch Logs: a KMS key refused (with [`KMS_KEY_NOT_ALLOWED_NEEDLE`]).
    pub const ACCESS_DENIED_EXCEPTION: &str = "AccessDeniedException";
    /// CloudWatch Logs: a request refused as invalid (also, with
    /// [`KMS_KEY_NOT_ALLOWED_NEEDLE`], a KMS key refused).
    pub const INVALID_PARAMETER_EXCEPTION: &str = "InvalidParameterException";
    /// CloudWatch Logs' message for a KMS key its policy does not let the
    /// service use: "The specified KMS key does not exist or is not allowed
    /// to be used with ...". Also so for a while after the policy is written.
    pub const KMS_KEY_NOT_ALLOWED_NEEDLE: &str = "is not allowed to be used";
}

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
                match dispatch_failure_of(&e) {
                    // Say what the user can fix first; the chain after it.
                    Some(kind) => format!("{}: {s}", kind.explain()),
                    None => s,
                }
            }
        };
        AwsError { code, message }
    }

    pub fn code_is(&self, codes: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| codes.contains(&c))
    }

    /// Auto Scaling's "not found": a `ValidationError` naming what is missing.
    pub fn is_autoscaling_not_found(&self) -> bool {
        self.code_is(&[code::VALIDATION_ERROR])
            && self.message.contains(code::AUTOSCALING_NOT_FOUND_NEEDLE)
    }

    /// Auto Scaling refused an instance profile IAM has not propagated yet.
    pub fn is_invalid_instance_profile(&self) -> bool {
        self.message.contains(code::INVALID_INSTANCE_PROFILE_NEEDLE)
    }

    /// S3's answer to a HeadBucket of a missing bucket (a bare 404).
    /// IAM CreateServiceLinkedRole: the service's role exists already.
    pub fn is_service_role_taken(&self) -> bool {
        self.code_is(&[code::INVALID_INPUT])
            && self.message.contains(code::SERVICE_ROLE_TAKEN_NEEDLE)
    }

    pub fn is_http_not_found(&self) -> bool {
        self.is_not_found() || self.message.contains(code::HTTP_NOT_FOUND_NEEDLE)
    }

    /// The object exists already: a create that was retried after its
    /// response was lost, or an object left by an interrupted run.
    /// Never S3's `BucketAlreadyExists`: that bucket is another account's.
    pub fn is_already_exists(&self) -> bool {
        self.code.as_deref().is_some_and(|c| {
            (c.contains("AlreadyExists") && c != code::BUCKET_ALREADY_EXISTS)
                || [
                    code::ENTITY_ALREADY_EXISTS,
                    code::SECURITY_GROUP_DUPLICATE,
                    code::PERMISSION_DUPLICATE,
                    code::BUCKET_ALREADY_OWNED_BY_YOU,
                    code::RESOURCE_IN_USE_EXCEPTION,
                ]
                .contains(&c)
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
                || [
                    code::NO_SUCH_ENTITY,
                    code::NO_SUCH_BUCKET,
                    code::RESOURCE_NOT_FOUND_EXCEPTION,
                    code::SECURITY_GROUP_NOT_FOUND,
                    code::NO_SUCH_HOSTED_ZONE,
                    code::APPLICATION_DOES_NOT_EXIST,
                    code::DEPLOYMENT_GROUP_DOES_NOT_EXIST,
                    code::DEPLOYMENT_DOES_NOT_EXIST,
                ]
                .contains(&c)
        })
    }
}

/// Why a request never reached AWS: the endpoint's host name does not
/// resolve, nothing accepts the connection, or connecting takes too long.
/// A wrong region or a wrong `endpoints` entry ends here, and retrying it
/// 25 times only makes the user wait (so it is retried at most once, see
/// `aws::retry`). A connection dropped after the request was sent is not one
/// of these: it may have taken effect and is retried as usual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchFailure {
    /// DNS lookup of the endpoint's host failed.
    CannotResolve,
    /// The connection was refused or the network is unreachable.
    CannotConnect,
    /// No connection within the connect timeout.
    ConnectTimeout,
}

impl DispatchFailure {
    /// A sentence saying what went wrong and what to check.
    pub fn explain(self) -> &'static str {
        match self {
            DispatchFailure::CannotResolve => "cannot resolve the AWS endpoint's host name (check the region and the endpoints block)",
            DispatchFailure::CannotConnect => "cannot connect to the AWS endpoint (check the region, the endpoints block and the network)",
            DispatchFailure::ConnectTimeout => "timed out connecting to the AWS endpoint (check the region, the endpoints block and the network)",
        }
    }
}

/// The dispatch failure behind `e`, if `e` is one (see [`DispatchFailure`]).
pub fn dispatch_failure_of<E, R>(e: &SdkError<E, R>) -> Option<DispatchFailure> {
    match e {
        SdkError::DispatchFailure(d) => d.as_connector_error().and_then(|c| classify_dispatch(c)),
        _ => None,
    }
}

/// Classifies a connector error by its source chain: an I/O error of the
/// connect kinds, hyper's "dns error", or a connect timeout. The HTTP client's
/// error types are not public, so their messages are what we can match.
pub fn classify_dispatch(err: &(dyn std::error::Error + 'static)) -> Option<DispatchFailure> {
    use std::io::ErrorKind as K;
    let mut next = Some(err);
    let mut connecting = false;
    while let Some(e) = next {
        let text = e.to_string();
        if text.starts_with("dns error") || text.contains("failed to lookup address") {
            return Some(DispatchFailure::CannotResolve);
        }
        if text.contains("connect timeout") {
            return Some(DispatchFailure::ConnectTimeout);
        }
        if text.contains("(Connect)") || text.starts_with("tcp connect error") {
            connecting = true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                K::ConnectionRefused
                | K::NetworkUnreachable
                | K::HostUnreachable
                | K::AddrNotAvailable => return Some(DispatchFailure::CannotConnect),
                K::TimedOut if connecting => return Some(DispatchFailure::ConnectTimeout),
                _ => {}
            }
        }
        next = e.source();
    }
    connecting.then_some(DispatchFailure::CannotConnect)
}

/// Absence as an answer, for look-ups and deletes: "not found" becomes
/// `Ok(None)`, any other error stays an error.
pub trait Found<T> {
    type Error;
    fn found(self) -> Result<Option<T>, Self::Error>;
}

impl<T> Found<T> for Result<T, AwsError> {
    type Error = AwsError;
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

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Wrap(
        String,
        #[source] Option<Box<dyn std::error::Error + Send + Sync>>,
    );

    #[test]
    fn a_taken_service_role_is_told_by_code_and_message() {
        let taken = AwsError::new(
            Some(code::INVALID_INPUT),
            "Service role name AWSServiceRoleForAutoScaling has been taken in this account, please try a different suffix.",
        );
        assert!(taken.is_service_role_taken());
        assert!(!AwsError::new(Some(code::INVALID_INPUT), "bad name").is_service_role_taken());
        assert!(!AwsError::new(Some("Other"), "has been taken").is_service_role_taken());
    }

    #[test]
    fn dispatch_failures_are_classified() {
        let refused = Wrap(
            "client error (Connect)".into(),
            Some(Box::new(Wrap(
                "tcp connect error".into(),
                Some(Box::new(std::io::Error::from(
                    std::io::ErrorKind::ConnectionRefused,
                ))),
            ))),
        );
        assert_eq!(
            classify_dispatch(&refused),
            Some(DispatchFailure::CannotConnect)
        );
        let dns = Wrap(
            "client error (Connect)".into(),
            Some(Box::new(Wrap(
                "dns error".into(),
                Some(Box::new(std::io::Error::other(
                    "failed to lookup address information: Name or service not known",
                ))),
            ))),
        );
        assert_eq!(
            classify_dispatch(&dns),
            Some(DispatchFailure::CannotResolve)
        );
        let slow = Wrap("HTTP connect timeout occurred after 3.1s".into(), None);
        assert_eq!(
            classify_dispatch(&slow),
            Some(DispatchFailure::ConnectTimeout)
        );
        // A connection closed after the request was sent may have taken
        // effect: not a dispatch failure of this kind.
        let dropped = Wrap(
            "connection closed before message completed".into(),
            Some(Box::new(std::io::Error::from(
                std::io::ErrorKind::ConnectionReset,
            ))),
        );
        assert_eq!(classify_dispatch(&dropped), None);
    }

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
