//! Retries of what AWS refuses for a while and then allows, as
//! terraform-provider-aws does:
//! - deletes of network objects answered `DependencyViolation` while network
//!   interfaces remain (an instance just terminated, a load balancer just
//!   deleted): retried with backoff until the delete timeout, and the error at
//!   the timeout names the object and what still depends on it;
//! - reads right after a create answered "not found" (eventual consistency):
//!   retried for a bounded time (`RetryWhenNewResourceNotFound`);
//! - calls naming an IAM managed policy made a moment ago (a role's
//!   permissions boundary) answered "no such policy": retried likewise.
//!
//! Both stop at once when Terraform cancels (StopProvider), and report their
//! wait to the operation's steps (see [`super::step`]), so that a timeout of
//! the whole operation says what it was waiting for.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::error::code;
use super::wait::WaitError;
use super::{AwsError, Clients, Found};

/// How long a new object may stay invisible to reads (terraform-provider-aws's
/// `PropagationTimeout`).
pub const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(120);

/// Exponential backoff between `first` and `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Self {
        Backoff { next: first, max }
    }

    /// The pause before the next attempt (doubling, at most `max`).
    pub fn pause(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }
}

/// Backoff of deletes waiting for dependents to go.
pub const DELETE_BACKOFF: Backoff =
    Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
/// Backoff of reads waiting for a new object to be visible.
pub const READ_BACKOFF: Backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));

/// Why a retry loop stopped without success.
enum Stop {
    Cancelled,
    Deadline,
}

/// Sleeps `pause` unless that passes `deadline` (measured from `start`) or
/// Terraform cancels first.
async fn pause(
    start: Instant,
    deadline: Duration,
    pause: Duration,
    cancel: &CancellationToken,
) -> Result<(), Stop> {
    let left = deadline.saturating_sub(start.elapsed());
    if left.is_zero() {
        return Err(Stop::Deadline);
    }
    tokio::select! {
        _ = cancel.cancelled() => Err(Stop::Cancelled),
        _ = tokio::time::sleep(pause.min(left)) => Ok(()),
    }
}

/// Runs `op` (a delete) until AWS stops answering `DependencyViolation`, for at
/// most `timeout`. `dependents` names what still depends on the object (e.g.
/// the network interfaces in a subnet); it is asked after each refusal, and
/// its answer goes into the wait's description and the error at the timeout.
pub async fn while_dependent<T, F, Fut, D, DFut>(
    what: &str,
    timeout: Duration,
    backoff: Backoff,
    cancel: &CancellationToken,
    op: F,
    dependents: D,
) -> Result<T, WaitError<AwsError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
    D: FnMut() -> DFut,
    DFut: Future<Output = Result<Vec<String>, AwsError>>,
{
    while_refused(
        &[code::DEPENDENCY_VIOLATION],
        what,
        timeout,
        backoff,
        cancel,
        op,
        dependents,
    )
    .await
}

/// [`while_dependent`] for IAM: a delete answered `DeleteConflict` while what
/// is attached to the object (policies, instance profiles) was just removed,
/// or not yet seen by a listing right after the object's create. `op` should
/// remove the attachments it finds and then delete.
pub async fn while_conflict<T, F, Fut>(what: &str, op: F) -> Result<T, WaitError<AwsError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let never = CancellationToken::new();
    while_refused(
        &[code::DELETE_CONFLICT],
        what,
        PROPAGATION_TIMEOUT,
        DELETE_BACKOFF,
        &never,
        op,
        || async { Ok(Vec::new()) },
    )
    .await
}

async fn while_refused<T, F, Fut, D, DFut>(
    codes: &[&str],
    what: &str,
    timeout: Duration,
    mut backoff: Backoff,
    cancel: &CancellationToken,
    mut op: F,
    mut dependents: D,
) -> Result<T, WaitError<AwsError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
    D: FnMut() -> DFut,
    DFut: Future<Output = Result<Vec<String>, AwsError>>,
{
    let start = Instant::now();
    let mut shown: Option<String> = None;
    let r = loop {
        let refused = match op().await {
            Err(e) if e.code_is(codes) => e,
            other => break other.map_err(WaitError::Failed),
        };
        // What still depends on it: informative only, a failed look-up is no reason to stop.
        let left = dependents().await.unwrap_or_default();
        let waiting = if left.is_empty() {
            format!("{what} to lose its dependents")
        } else {
            format!("{what} to lose its dependents ({})", left.join(", "))
        };
        // One wait reported, its text brought up to date (others of the
        // operation may be reported beside it).
        if let Some(before) = shown.replace(waiting.clone()) {
            super::step::wait_done(&before);
        }
        super::step::wait(Some(&waiting));
        match pause(start, timeout, backoff.pause(), cancel).await {
            Ok(()) => continue,
            Err(Stop::Cancelled) => break Err(WaitError::Cancelled(waiting)),
            Err(Stop::Deadline) => {
                let still = if left.is_empty() {
                    "AWS still reports dependents (e.g. network interfaces being released)"
                        .to_string()
                } else {
                    format!("still in use by {}", left.join(", "))
                };
                break Err(WaitError::Failed(AwsError::new(
                    refused.code.as_deref(),
                    format!(
                        "deleting {what}: {still} after {}s of retries; delete those (or wait for AWS to release them) and run destroy again. Last answer: {}",
                        timeout.as_secs(),
                        refused.message
                    ),
                )));
            }
        }
    };
    if let Some(w) = shown {
        super::step::wait_done(&w);
    }
    r
}

/// One attempt of a call retried while AWS does not see a new object yet.
enum Attempt<T> {
    Done(T),
    /// Not seen yet; AWS's answer, when it was an error.
    Pending(Option<AwsError>),
}

/// Runs `op` until it is done, pausing with `backoff` while it is pending,
/// for at most `timeout`; `give_up` makes the error at the timeout from the
/// last pending answer. The loop shared by [`until_found`] and
/// [`until_usable`].
async fn while_pending<T, F, Fut, G>(
    waiting: &str,
    timeout: Duration,
    mut backoff: Backoff,
    cancel: &CancellationToken,
    mut op: F,
    give_up: G,
) -> Result<T, WaitError<AwsError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, AwsError>>,
    G: FnOnce(Option<AwsError>) -> WaitError<AwsError>,
{
    let start = Instant::now();
    let mut reported = false;
    let r = loop {
        let last = match op().await {
            Ok(Attempt::Done(t)) => break Ok(t),
            Ok(Attempt::Pending(last)) => last,
            Err(e) => break Err(WaitError::Failed(e)),
        };
        if !reported {
            super::step::wait(Some(waiting));
            reported = true;
        }
        match pause(start, timeout, backoff.pause(), cancel).await {
            Ok(()) => continue,
            Err(Stop::Cancelled) => break Err(WaitError::Cancelled(waiting.to_string())),
            Err(Stop::Deadline) => break Err(give_up(last)),
        }
    };
    if reported {
        super::step::wait_done(waiting);
    }
    r
}

/// Runs `op` (a read right after a create) until it finds the object: AWS
/// may answer "not found" for a while, as an error (`*.NotFound`,
/// `NoSuchEntity`) or as an empty answer (`Ok(None)`). Gives up after
/// `timeout` with an error that is NOT "not found", so that no caller takes a
/// just-created object for a deleted one.
pub async fn until_found<T, F, Fut>(
    what: &str,
    timeout: Duration,
    backoff: Backoff,
    cancel: &CancellationToken,
    mut op: F,
) -> Result<T, WaitError<AwsError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, AwsError>>,
{
    let waiting = format!("{what} to be visible after its creation");
    while_pending(
        &waiting,
        timeout,
        backoff,
        cancel,
        || {
            let attempt = op();
            async move {
                match attempt.await.found()? {
                    Some(Some(t)) => Ok(Attempt::Done(t)),
                    _ => Ok(Attempt::Pending(None)),
                }
            }
        },
        |_| {
            WaitError::Timeout(
                timeout,
                format!("{what}, created, to be visible to AWS's reads"),
            )
        },
    )
    .await
}

/// Whether AWS refused a call because an IAM managed policy it names does
/// not exist, or not yet: IAM answers `NoSuchEntity` (or `InvalidInput`,
/// "... does not exist or is not attachable") for a few seconds after the
/// policy is made.
pub fn policy_not_usable_yet(e: &AwsError) -> bool {
    e.code_is(&[code::NO_SUCH_ENTITY])
        || (e.code_is(&[code::INVALID_INPUT]) && e.message.contains(code::NOT_ATTACHABLE_NEEDLE))
}

/// Runs `op` (a call naming an IAM managed policy made a moment ago, e.g. a
/// `CreateRole` with it as permissions boundary) while AWS answers that the
/// policy does not exist ([`policy_not_usable_yet`]), for at most `timeout`.
/// At the timeout, AWS's own last answer, said to be so after the wait: the
/// policy really is missing. Only for a policy the caller just made or found:
/// a policy long gone must not cost the wait.
pub async fn until_usable<T, F, Fut>(
    what: &str,
    timeout: Duration,
    backoff: Backoff,
    cancel: &CancellationToken,
    mut op: F,
) -> Result<T, WaitError<AwsError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let waiting = format!("{what} to be usable after its creation");
    while_pending(
        &waiting,
        timeout,
        backoff,
        cancel,
        || {
            let attempt = op();
            async move {
                match attempt.await {
                    Ok(t) => Ok(Attempt::Done(t)),
                    Err(e) if policy_not_usable_yet(&e) => Ok(Attempt::Pending(Some(e))),
                    Err(e) => Err(e),
                }
            }
        },
        |last| {
            // AWS's own last answer, said to be so after the wait.
            match last {
                Some(last) => WaitError::Failed(AwsError::new(
                    last.code.as_deref(),
                    format!(
                        "{what} is still refused after {}s of retries: {}",
                        timeout.as_secs(),
                        last.message
                    ),
                )),
                None => WaitError::Timeout(timeout, format!("{what} to be usable")),
            }
        },
    )
    .await
}

/// [`until_usable`] with the propagation timeout, inside an operation run by
/// `resources::common::cancellable` (which stops it at the operation's
/// timeout or on StopProvider).
pub async fn new_policy<T, F, Fut>(what: &str, op: F) -> Result<T, WaitError<AwsError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let never = CancellationToken::new();
    until_usable(what, PROPAGATION_TIMEOUT, READ_BACKOFF, &never, op).await
}

/// Runs `op` (a KMS call whose key policy names an IAM role made a moment
/// ago) while KMS refuses the policy (`MalformedPolicyDocumentException`:
/// it checks that principals exist, and IAM takes a few seconds to show a
/// new role), for at most the propagation timeout. Only for a role the
/// caller just made: a policy really malformed must not cost the wait.
pub async fn new_principal<T, F, Fut>(what: &str, op: F) -> Result<T, WaitError<AwsError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let waiting = format!("{what} to accept a role just made");
    retry_while_propagating(&waiting, what, op, |e: &AwsError| {
        e.code_is(&[code::KMS_MALFORMED_POLICY])
    })
    .await
}

/// Whether CloudWatch Logs refused a KMS key it may not use: so for a while
/// after the key is made or its policy written (the policy propagates), and
/// for good when the policy does not let the service in.
pub fn key_not_usable_yet(e: &AwsError) -> bool {
    e.code_is(&[
        code::ACCESS_DENIED_EXCEPTION,
        code::INVALID_PARAMETER_EXCEPTION,
    ]) && e.message.contains(code::KMS_KEY_NOT_ALLOWED_NEEDLE)
}

/// Runs `op` (a call naming a KMS key made, or its policy written, a moment
/// ago, e.g. CloudWatch Logs' `CreateLogGroup` with `kmsKeyId`) while the
/// service refuses the key ([`key_not_usable_yet`]), for at most the
/// propagation timeout. At the timeout, AWS's own last answer: the policy
/// really does not let the service use the key.
pub async fn new_key_policy<T, F, Fut>(what: &str, op: F) -> Result<T, WaitError<AwsError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let waiting = format!("{what} to accept a KMS key policy just written");
    retry_while_propagating(&waiting, what, op, key_not_usable_yet).await
}

/// Runs `op` again while AWS refuses it in a way that `refused` says passes
/// with propagation, for at most the propagation timeout; then AWS's last
/// answer is the error. Other errors are returned at once.
async fn retry_while_propagating<T, F, Fut>(
    waiting: &str,
    what: &str,
    mut op: F,
    refused: impl Fn(&AwsError) -> bool,
) -> Result<T, WaitError<AwsError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let never = CancellationToken::new();
    let refused = &refused;
    while_pending(
        waiting,
        PROPAGATION_TIMEOUT,
        READ_BACKOFF,
        &never,
        || {
            let attempt = op();
            async move {
                match attempt.await {
                    Ok(t) => Ok(Attempt::Done(t)),
                    Err(e) if refused(&e) => Ok(Attempt::Pending(Some(e))),
                    Err(e) => Err(e),
                }
            }
        },
        |last| match last {
            Some(last) => WaitError::Failed(last),
            None => WaitError::Timeout(PROPAGATION_TIMEOUT, what.to_string()),
        },
    )
    .await
}

/// [`until_found`] with the propagation timeout, for reads right after a
/// create inside an operation run by `resources::common::cancellable` (which
/// already stops it at the operation's timeout or on StopProvider).
pub async fn new_object<T, F, Fut>(what: &str, op: F) -> Result<T, WaitError<AwsError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, AwsError>>,
{
    let never = CancellationToken::new();
    until_found(what, PROPAGATION_TIMEOUT, READ_BACKOFF, &never, op).await
}

/// The IAM role `name`, for a `CreateRole` answered `EntityAlreadyExists`:
/// read until IAM shows it ([`new_object`]), since a role made a moment ago
/// (by a create whose answer was lost, or by someone else) is not found by
/// `GetRole` at first. Whose it is, its tags say: the caller checks them.
pub async fn existing_role(
    c: &Clients,
    name: &str,
) -> Result<aws_sdk_iam::types::Role, WaitError<AwsError>> {
    new_object(&format!("IAM role {name}"), || async {
        c.iam
            .get_role()
            .role_name(name)
            .send()
            .await
            .map(|o| o.role().cloned())
            .map_err(AwsError::from_sdk)
    })
    .await
}

/// The network interfaces (id and what they belong to) matching an EC2 filter,
/// e.g. `("group-id", "sg-1")`: what keeps a subnet, security group or VPC
/// from being deleted.
pub async fn network_interfaces(
    c: &Clients,
    filter: &str,
    value: &str,
) -> Result<Vec<String>, AwsError> {
    use aws_sdk_ec2::types::Filter;
    let out = c
        .ec2
        .describe_network_interfaces()
        .filters(Filter::builder().name(filter).values(value).build())
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(out
        .network_interfaces()
        .iter()
        .filter_map(|n| {
            let id = n.network_interface_id()?;
            let owner = n
                .attachment()
                .and_then(|a| a.instance_id())
                .map(|i| format!("instance {i}"))
                .or_else(|| {
                    n.description()
                        .filter(|d| !d.is_empty())
                        .map(str::to_string)
                });
            Some(match owner {
                Some(o) => format!("network interface {id} ({o})"),
                None => format!("network interface {id}"),
            })
        })
        .collect())
}

/// A network object whose delete waits out `DependencyViolation`.
#[derive(Debug, Clone, Copy)]
pub enum Network<'a> {
    SecurityGroup(&'a str),
    Subnet(&'a str),
    Vpc(&'a str),
}

impl Network<'_> {
    fn describe(&self) -> String {
        match self {
            Network::SecurityGroup(id) => format!("security group {id}"),
            Network::Subnet(id) => format!("subnet {id}"),
            Network::Vpc(id) => format!("VPC {id}"),
        }
    }

    fn filter(&self) -> (&'static str, &str) {
        match self {
            Network::SecurityGroup(id) => ("group-id", id),
            Network::Subnet(id) => ("subnet-id", id),
            Network::Vpc(id) => ("vpc-id", id),
        }
    }
}

/// Deletes a security group, subnet or VPC, retrying `DependencyViolation`
/// until `timeout`; one already gone counts as deleted.
pub async fn delete_network(
    c: &Clients,
    object: Network<'_>,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), WaitError<AwsError>> {
    let what = object.describe();
    let (filter, value) = object.filter();
    while_dependent(
        &what,
        timeout,
        DELETE_BACKOFF,
        cancel,
        || async {
            let r = match object {
                Network::SecurityGroup(id) => c
                    .ec2
                    .delete_security_group()
                    .group_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(AwsError::from_sdk),
                Network::Subnet(id) => c
                    .ec2
                    .delete_subnet()
                    .subnet_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(AwsError::from_sdk),
                Network::Vpc(id) => c
                    .ec2
                    .delete_vpc()
                    .vpc_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(AwsError::from_sdk),
            };
            r.found().map(|_| ())
        },
        || network_interfaces(c, filter, value),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const FAST: Backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(4));

    fn violation() -> AwsError {
        AwsError::new(
            Some("DependencyViolation"),
            "DependencyViolation: resource sg-1 has a dependent object",
        )
    }

    #[test]
    fn backoff_doubles_up_to_its_max() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(2));
        let seen: Vec<u128> = (0..5).map(|_| b.pause().as_millis()).collect();
        assert_eq!(seen, vec![500, 1000, 2000, 2000, 2000]);
    }

    #[tokio::test]
    async fn retries_dependency_violation_until_the_delete_goes_through() {
        let tries = Cell::new(0);
        let asked = Cell::new(0);
        let r = while_dependent(
            "security group sg-1",
            Duration::from_secs(5),
            FAST,
            &CancellationToken::new(),
            || {
                tries.set(tries.get() + 1);
                let n = tries.get();
                async move {
                    if n < 4 {
                        Err(violation())
                    } else {
                        Ok(n)
                    }
                }
            },
            || {
                asked.set(asked.get() + 1);
                async { Ok(vec!["network interface eni-1".to_string()]) }
            },
        )
        .await;
        assert_eq!(r.ok(), Some(4));
        assert_eq!(asked.get(), 3);
    }

    #[tokio::test]
    async fn iam_delete_conflicts_are_retried() {
        let tries = Cell::new(0);
        let r = while_conflict("IAM role r", || {
            tries.set(tries.get() + 1);
            let n = tries.get();
            async move {
                if n < 2 {
                    Err(AwsError::new(
                        Some("DeleteConflict"),
                        "must delete policies first",
                    ))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert!(r.is_ok());
        assert_eq!(tries.get(), 2);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let tries = Cell::new(0);
        let r: Result<(), _> = while_dependent(
            "subnet subnet-1",
            Duration::from_secs(5),
            FAST,
            &CancellationToken::new(),
            || {
                tries.set(tries.get() + 1);
                async { Err(AwsError::new(Some("UnauthorizedOperation"), "no")) }
            },
            || async { Ok(vec![]) },
        )
        .await;
        assert!(matches!(r, Err(WaitError::Failed(e)) if e.code_is(&["UnauthorizedOperation"])));
        assert_eq!(tries.get(), 1);
    }

    #[tokio::test]
    async fn the_timeout_error_names_the_object_and_its_dependents() {
        let r: Result<(), _> = while_dependent(
            "security group sg-1",
            Duration::from_millis(30),
            FAST,
            &CancellationToken::new(),
            || async { Err(violation()) },
            || async { Ok(vec!["network interface eni-9 (instance i-3)".to_string()]) },
        )
        .await;
        let Err(WaitError::Failed(e)) = r else {
            panic!("times out with AWS's last answer: {r:?}")
        };
        assert_eq!(e.code.as_deref(), Some("DependencyViolation"));
        assert!(
            e.message.contains("deleting security group sg-1"),
            "{}",
            e.message
        );
        assert!(e.message.contains("eni-9 (instance i-3)"), "{}", e.message);
    }

    #[tokio::test]
    async fn cancellation_stops_a_delete_retry() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let r: Result<(), _> = while_dependent(
            "VPC vpc-1",
            Duration::from_secs(60),
            Backoff::new(Duration::from_secs(30), Duration::from_secs(30)),
            &cancel,
            || async { Err(violation()) },
            || async { Ok(vec![]) },
        )
        .await;
        assert!(matches!(r, Err(WaitError::Cancelled(w)) if w.contains("VPC vpc-1")));
    }

    #[tokio::test]
    async fn a_new_object_is_read_again_until_found() {
        let tries = Cell::new(0);
        let r = until_found(
            "security group sg-1",
            Duration::from_secs(5),
            FAST,
            &CancellationToken::new(),
            || {
                tries.set(tries.get() + 1);
                let n = tries.get();
                async move {
                    match n {
                        1 => Err(AwsError::new(Some("InvalidGroup.NotFound"), "not yet")),
                        2 => Ok(None),
                        _ => Ok(Some("sg-1")),
                    }
                }
            },
        )
        .await;
        assert_eq!(r.ok(), Some("sg-1"));
        assert_eq!(tries.get(), 3);
    }

    #[tokio::test]
    async fn a_new_object_never_found_is_an_error_that_is_not_not_found() {
        let r: Result<(), _> = until_found(
            "IAM role r",
            Duration::from_millis(20),
            FAST,
            &CancellationToken::new(),
            || async { Err(AwsError::new(Some("NoSuchEntity"), "no")) },
        )
        .await;
        // A timeout, not "not found": no caller takes it for a deleted object.
        assert!(matches!(r, Err(WaitError::Timeout(_, w)) if w.contains("IAM role r, created")));
        let r: Result<(), _> = until_found(
            "IAM role r",
            Duration::from_secs(5),
            FAST,
            &CancellationToken::new(),
            || async { Err(AwsError::new(Some("AccessDenied"), "no")) },
        )
        .await;
        assert!(matches!(r, Err(WaitError::Failed(e)) if e.code_is(&["AccessDenied"])));
    }

    #[tokio::test]
    async fn a_call_naming_a_new_policy_is_retried_until_iam_knows_it() {
        let tries = Cell::new(0);
        let r = until_usable(
            "IAM role r",
            Duration::from_secs(5),
            FAST,
            &CancellationToken::new(),
            || {
                tries.set(tries.get() + 1);
                let n = tries.get();
                async move {
                    match n {
                        1 => Err(AwsError::new(
                            Some("NoSuchEntity"),
                            "Scope ARN: arn:aws:iam::1:policy/b does not exist or is not attachable.",
                        )),
                        2 => Err(AwsError::new(
                            Some("InvalidInput"),
                            "Policy arn:aws:iam::1:policy/b does not exist or is not attachable.",
                        )),
                        _ => Ok(n),
                    }
                }
            },
        )
        .await;
        assert_eq!(r.ok(), Some(3));
    }

    #[tokio::test]
    async fn a_policy_never_usable_is_aws_s_error_after_the_wait() {
        let r: Result<(), _> = until_usable(
            "IAM role r",
            Duration::from_millis(20),
            FAST,
            &CancellationToken::new(),
            || async {
                Err(AwsError::new(
                    Some("NoSuchEntity"),
                    "Scope ARN: arn:aws:iam::1:policy/b does not exist or is not attachable.",
                ))
            },
        )
        .await;
        let Err(WaitError::Failed(e)) = r else {
            panic!("gives up with AWS's last answer: {r:?}")
        };
        assert_eq!(e.code.as_deref(), Some("NoSuchEntity"));
        assert!(e.message.contains("still refused"), "{}", e.message);
        assert!(e.message.contains("policy/b"), "{}", e.message);
        // Other refusals (a bad input of ours) are not waited on.
        let tries = Cell::new(0);
        let r: Result<(), _> = until_usable(
            "IAM role r",
            Duration::from_secs(5),
            FAST,
            &CancellationToken::new(),
            || {
                tries.set(tries.get() + 1);
                async { Err(AwsError::new(Some("InvalidInput"), "ARN x is not valid.")) }
            },
        )
        .await;
        assert!(matches!(r, Err(WaitError::Failed(e)) if e.code_is(&["InvalidInput"])));
        assert_eq!(tries.get(), 1);
    }

    #[test]
    fn a_kms_key_logs_may_not_use_yet_is_waited_on_other_refusals_are_not() {
        let arn = "arn:aws:logs:us-east-1:1:log-group:datomic-s";
        let refused = |code| {
            AwsError::new(
                Some(code),
                format!("{code}: The specified KMS key does not exist or is not allowed to be used with Arn '{arn}'"),
            )
        };
        assert!(key_not_usable_yet(&refused("AccessDeniedException")));
        assert!(key_not_usable_yet(&refused("InvalidParameterException")));
        assert!(!key_not_usable_yet(&refused(
            "ResourceAlreadyExistsException"
        )));
        assert!(!key_not_usable_yet(&AwsError::new(
            Some("AccessDeniedException"),
            "User is not authorized to perform: logs:CreateLogGroup",
        )));
        assert!(!key_not_usable_yet(&AwsError::new(
            Some("InvalidParameterException"),
            "1 validation error detected: logGroupName",
        )));
    }

    #[tokio::test]
    async fn a_call_naming_a_new_key_policy_is_retried_until_the_service_may_use_it() {
        let tries = Cell::new(0);
        let r = new_key_policy("CloudWatch log group datomic-s", || {
            tries.set(tries.get() + 1);
            let n = tries.get();
            async move {
                match n {
                    1 => Err(AwsError::new(
                        Some("AccessDeniedException"),
                        "The specified KMS key does not exist or is not allowed to be used with Arn 'x'",
                    )),
                    _ => Ok(n),
                }
            }
        })
        .await;
        assert_eq!(r.ok(), Some(2));
        // Another refusal is AWS's answer at once.
        let tries = Cell::new(0);
        let r: Result<(), _> = new_key_policy("CloudWatch log group datomic-s", || {
            tries.set(tries.get() + 1);
            async {
                Err(AwsError::new(
                    Some("AccessDeniedException"),
                    "not authorized",
                ))
            }
        })
        .await;
        assert!(matches!(r, Err(WaitError::Failed(e)) if e.message == "not authorized"));
        assert_eq!(tries.get(), 1);
    }
}
