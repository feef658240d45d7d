//! AWS's state machines that the resources pass through: a load balancer
//! `provisioning` -> `active`, a DynamoDB table `CREATING` -> `ACTIVE` and
//! `DELETING` -> gone, each step as a [`Seen`]. The load balancer's wait is
//! here; the table's are beside its finder (resources/storage/table.rs), so
//! that one DescribeTable serves both. Each wait honours its timeout and
//! StopProvider (through [`super::wait::Waiter`]).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::wait::{Poll, WaitError, Waiter};
use super::{AwsError, Clients, Found};

/// What one look at a table or load balancer found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Gone,
    Pending,
    Ready,
    Failed,
}

/// A DynamoDB table status as a step of its state machine.
pub fn table_state(status: Option<&str>) -> Seen {
    match status {
        None => Seen::Gone,
        Some("ACTIVE") => Seen::Ready,
        Some("CREATING" | "UPDATING" | "DELETING") => Seen::Pending,
        Some(_) => Seen::Failed,
    }
}

/// A load balancer state code as a step of its state machine.
pub fn load_balancer_state(code: Option<&str>) -> Seen {
    match code {
        None => Seen::Gone,
        Some("active") => Seen::Ready,
        Some("provisioning") => Seen::Pending,
        Some(_) => Seen::Failed,
    }
}

/// Waits until the load balancer is `active` (it is `provisioning` for a few
/// minutes after its create).
pub async fn load_balancer_active(
    c: &Clients,
    arn: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), WaitError<AwsError>> {
    if arn.is_empty() {
        return Ok(());
    }
    let what = format!("load balancer {arn} to be active");
    Waiter::new(timeout)
        .until(&what, cancel, || async {
            let out = c
                .elbv2
                .describe_load_balancers()
                .load_balancer_arns(arn)
                .send()
                .await
                .map_err(AwsError::from_sdk)
                .found()?;
            let code = out.as_ref().and_then(|o| {
                o.load_balancers()
                    .first()
                    .and_then(|lb| lb.state())
                    .and_then(|s| s.code())
                    .map(|c| c.as_str().to_string())
            });
            match load_balancer_state(code.as_deref()) {
                Seen::Ready => Ok(Poll::Done(())),
                // Not visible yet right after its create: eventual consistency.
                Seen::Pending | Seen::Gone => Ok(Poll::Pending),
                Seen::Failed => Ok(Poll::Stuck(format!(
                    "load balancer {arn} is {} (AWS could not provision it)",
                    code.as_deref().unwrap_or("?")
                ))),
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_states() {
        assert_eq!(table_state(Some("CREATING")), Seen::Pending);
        assert_eq!(table_state(Some("DELETING")), Seen::Pending);
        assert_eq!(table_state(Some("ACTIVE")), Seen::Ready);
        assert_eq!(table_state(None), Seen::Gone);
        assert_eq!(
            table_state(Some("INACCESSIBLE_ENCRYPTION_CREDENTIALS")),
            Seen::Failed
        );
    }

    #[test]
    fn load_balancer_states() {
        assert_eq!(load_balancer_state(Some("provisioning")), Seen::Pending);
        assert_eq!(load_balancer_state(Some("active")), Seen::Ready);
        assert_eq!(load_balancer_state(Some("failed")), Seen::Failed);
        assert_eq!(load_balancer_state(None), Seen::Gone);
    }
}
