//! What an operation was doing on AWS when it was cut short: the wait it was
//! in and the AWS call in flight, so that a timeout can say which step took
//! too long ("Auto Scaling CreateAutoScalingGroup"), not only which operation.
//!
//! A [`Steps`] record is bound to the task that runs one resource operation
//! ([`Steps::scope`]); the SDK clients report every call to it through the
//! [`Recorder`] interceptor (it runs inside the calling task), and
//! [`crate::aws::wait::Waiter`] reports its waits. Calls made outside a scope
//! are not recorded.

use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

tokio::task_local! {
    static CURRENT: Steps;
}

#[derive(Default, Debug)]
struct Seen {
    /// The waits in progress, e.g. "Auto Scaling group prod-primary to have 2
    /// nodes InService" (more than one when an operation waits for several
    /// things at once).
    wait: Vec<String>,
    /// The latest AWS call, e.g. "Auto Scaling CreateAutoScalingGroup".
    call: Option<String>,
}

/// The steps of one operation (cheap to clone: a shared record).
#[derive(Clone, Default, Debug)]
pub struct Steps(Arc<Mutex<Seen>>);

impl Steps {
    /// Runs `f` with this record as the current one.
    pub async fn scope<F: Future>(&self, f: F) -> F::Output {
        CURRENT.scope(self.clone(), f).await
    }

    /// Where the operation was: `waiting for WAIT (latest AWS call: CALL)`,
    /// `AWS call in flight: CALL`, or None when it made no call.
    pub fn describe(&self) -> Option<String> {
        let seen = self.0.lock().ok()?;
        let wait = (!seen.wait.is_empty()).then(|| seen.wait.join(" and "));
        match (wait, &seen.call) {
            (Some(w), Some(c)) => Some(format!("waiting for {w} (latest AWS call: {c})")),
            (Some(w), None) => Some(format!("waiting for {w}")),
            (None, Some(c)) => Some(format!("AWS call in flight: {c}")),
            (None, None) => None,
        }
    }
}

fn with_current(f: impl FnOnce(&mut Seen)) {
    let _ = CURRENT.try_with(|s| {
        if let Ok(mut seen) = s.0.lock() {
            f(&mut seen)
        }
    });
}

/// Records an AWS call of the current operation.
pub fn call(service: &str, operation: &str) {
    with_current(|s| s.call = Some(format!("{service} {operation}")));
}

/// Records the start (`Some`) of a wait, or the end (`None`) of every wait.
pub fn wait(what: Option<&str>) {
    with_current(|s| match what {
        Some(w) => s.wait.push(w.to_string()),
        None => s.wait.clear(),
    });
}

/// Records the end of the wait `what` (others of the operation go on).
pub fn wait_done(what: &str) {
    with_current(|s| {
        if let Some(i) = s.wait.iter().position(|w| w == what) {
            s.wait.remove(i);
        }
    });
}

/// The SDK interceptor that reports every call to the current [`Steps`].
#[derive(Debug, Default)]
pub struct Recorder;

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "datomic::step::Recorder"
    }

    // The operation's metadata is in the config bag from serialization on.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            call(m.service(), m.name());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_the_latest_call_and_wait_of_its_own_task_only() {
        let steps = Steps::default();
        call("EC2", "CreateVpc"); // outside any scope: dropped
        assert_eq!(steps.describe(), None);
        steps
            .scope(async {
                call("EC2", "CreateVpc");
                call("Auto Scaling", "CreateAutoScalingGroup");
            })
            .await;
        assert_eq!(
            steps.describe().as_deref(),
            Some("AWS call in flight: Auto Scaling CreateAutoScalingGroup")
        );
        steps
            .scope(async {
                wait(Some(
                    "Auto Scaling group p-primary to have 1 node InService",
                ))
            })
            .await;
        assert_eq!(
            steps.describe().as_deref(),
            Some("waiting for Auto Scaling group p-primary to have 1 node InService (latest AWS call: Auto Scaling CreateAutoScalingGroup)")
        );
        // Another operation's record is its own.
        let other = Steps::default();
        other.scope(async { call("IAM", "CreateRole") }).await;
        assert!(steps
            .describe()
            .unwrap_or_default()
            .contains("CreateAutoScalingGroup"));
        // Two waits at once: both are named until each ends.
        steps
            .scope(async {
                wait(Some("table t to be ACTIVE"));
                wait_done("Auto Scaling group p-primary to have 1 node InService");
            })
            .await;
        assert_eq!(
            steps.describe().as_deref(),
            Some("waiting for table t to be ACTIVE (latest AWS call: Auto Scaling CreateAutoScalingGroup)")
        );
        steps.scope(async { wait(None) }).await;
        assert_eq!(
            steps.describe().as_deref(),
            Some("AWS call in flight: Auto Scaling CreateAutoScalingGroup")
        );
    }
}

#[cfg(test)]
mod sdk_tests {
    use super::*;

    /// The interceptor sees calls made by a real SDK client inside a scope
    /// (here against an endpoint where nothing listens).
    #[tokio::test]
    async fn sdk_calls_are_recorded() {
        let conf = aws_sdk_sts::config::Builder::new()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .interceptor(Recorder)
            .build();
        let client = aws_sdk_sts::Client::from_conf(conf);
        let steps = Steps::default();
        let _ = steps
            .scope(async { client.get_caller_identity().send().await })
            .await;
        assert_eq!(
            steps.describe().as_deref(),
            Some("AWS call in flight: STS GetCallerIdentity")
        );
    }
}
