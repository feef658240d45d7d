//! Waits on AWS's state machines that the resources pass through: a load
//! balancer `provisioning` -> `active`, a DynamoDB table `CREATING` ->
//! `ACTIVE` and `DELETING` -> gone. Each honours its timeout and
//! StopProvider (through [`super::wait::Waiter`]).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::wait::{Poll, Waiter};
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

async fn table_status(c: &Clients, table: &str) -> Result<Option<String>, AwsError> {
    Ok(c.dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?
        .and_then(|o| {
            o.table()
                .and_then(|t| t.table_status())
                .map(|s| s.as_str().to_string())
        }))
}

/// Waits until the table is `ACTIVE` (a table just created is `CREATING`; one
/// not visible yet right after its create counts as pending).
pub async fn table_active(
    c: &Clients,
    table: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), AwsError> {
    let what = format!("DynamoDB table {table} to be ACTIVE");
    Waiter::new(timeout)
        .until(&what, cancel, || async {
            let status = table_status(c, table).await?;
            match table_state(status.as_deref()) {
                Seen::Ready => Ok(Poll::Done(())),
                Seen::Pending | Seen::Gone => Ok(Poll::Pending),
                Seen::Failed => Err(AwsError::new(
                    None,
                    format!(
                        "DynamoDB table {table} is {}",
                        status.as_deref().unwrap_or("?")
                    ),
                )),
            }
        })
        .await
        .map_err(AwsError::from)
}

/// Waits until the table is gone (`DELETING` until then).
pub async fn table_deleted(
    c: &Clients,
    table: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), AwsError> {
    let what = format!("DynamoDB table {table} to be deleted");
    Waiter::new(timeout)
        .until(&what, cancel, || async {
            Ok::<_, AwsError>(
                match table_state(table_status(c, table).await?.as_deref()) {
                    Seen::Gone => Poll::Done(()),
                    _ => Poll::Pending,
                },
            )
        })
        .await
        .map_err(AwsError::from)
}

/// Waits until the load balancer is `active` (it is `provisioning` for a few
/// minutes after its create).
pub async fn load_balancer_active(
    c: &Clients,
    arn: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), AwsError> {
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
                Seen::Failed => Err(AwsError::new(
                    None,
                    format!(
                        "load balancer {arn} is {} (AWS could not provision it)",
                        code.as_deref().unwrap_or("?")
                    ),
                )),
            }
        })
        .await
        .map_err(AwsError::from)
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
