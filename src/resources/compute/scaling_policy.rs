//! A query group's target-tracking scaling policy on average CPU.

use super::sdk;
use crate::aws::error::code;
use crate::aws::Clients;
use crate::resources::error::OpError;
use crate::rules;

/// The target-tracking policy a query group's `autoscaling` block makes.
pub const SCALING_POLICY_NAME: &str = "datomic-target-cpu";

/// Creates or updates the group's target-tracking policy on average CPU.
pub async fn put_cpu_target(c: &Clients, asg: &str, target: f64) -> Result<(), OpError> {
    use aws_sdk_autoscaling::types::{
        MetricType, PredefinedMetricSpecification, TargetTrackingConfiguration,
    };
    let metric = PredefinedMetricSpecification::builder()
        .predefined_metric_type(MetricType::AsgAverageCpuUtilization)
        .build();
    let config = TargetTrackingConfiguration::builder()
        .predefined_metric_specification(metric)
        .target_value(target)
        .build();
    c.autoscaling
        .put_scaling_policy()
        .auto_scaling_group_name(asg)
        .policy_name(SCALING_POLICY_NAME)
        .policy_type("TargetTrackingScaling")
        .target_tracking_configuration(config)
        .send()
        .await
        .map_err(sdk)?;
    Ok(())
}

pub async fn delete_cpu_target(c: &Clients, asg: &str) -> Result<(), OpError> {
    match c
        .autoscaling
        .delete_policy()
        .auto_scaling_group_name(asg)
        .policy_name(SCALING_POLICY_NAME)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = sdk(e);
            // Auto Scaling says ValidationError for a policy that is not there.
            if e.is_not_found() || e.code_is(&[code::VALIDATION_ERROR]) {
                Ok(())
            } else {
                Err(e.into())
            }
        }
    }
}

/// The target of the group's CPU target-tracking policy, if it has one.
pub async fn cpu_target(c: &Clients, asg: &str) -> Result<Option<f64>, OpError> {
    if let Some(snap) = c.snapshot(rules::TAG_MANAGED_BY).await {
        return Ok(snap
            .targets
            .get(&(asg.to_string(), SCALING_POLICY_NAME.to_string()))
            .copied());
    }
    let out = c
        .autoscaling
        .describe_policies()
        .auto_scaling_group_name(asg)
        .policy_names(SCALING_POLICY_NAME)
        .send()
        .await
        .map_err(sdk)?;
    Ok(target_of(out.scaling_policies()))
}

/// The target of our policy among a group's policies: the first of
/// [`SCALING_POLICY_NAME`] that has one; others' never count.
fn target_of(policies: &[aws_sdk_autoscaling::types::ScalingPolicy]) -> Option<f64> {
    policies
        .iter()
        .filter(|p| p.policy_name() == Some(SCALING_POLICY_NAME))
        .find_map(|p| {
            p.target_tracking_configuration()
                .and_then(|t| t.target_value())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::types::{ScalingPolicy, TargetTrackingConfiguration};

    fn policy(name: &str, target: Option<f64>) -> ScalingPolicy {
        let mut p = ScalingPolicy::builder().policy_name(name);
        if let Some(t) = target {
            p = p.target_tracking_configuration(
                TargetTrackingConfiguration::builder()
                    .target_value(t)
                    .build(),
            );
        }
        p.build()
    }

    #[test]
    fn the_target_is_our_policys() {
        let ps = [
            policy("someone-elses", Some(10.0)),
            policy(SCALING_POLICY_NAME, Some(60.0)),
        ];
        assert_eq!(target_of(&ps), Some(60.0));
    }

    #[test]
    fn no_target_without_our_policy_or_its_target() {
        assert_eq!(target_of(&[]), None);
        assert_eq!(target_of(&[policy("someone-elses", Some(10.0))]), None);
        assert_eq!(target_of(&[policy(SCALING_POLICY_NAME, None)]), None);
    }

    #[test]
    fn of_two_policies_of_our_name_the_first_with_a_target_counts() {
        let ps = [
            policy(SCALING_POLICY_NAME, None),
            policy(SCALING_POLICY_NAME, Some(40.0)),
            policy(SCALING_POLICY_NAME, Some(70.0)),
        ];
        assert_eq!(target_of(&ps), Some(40.0));
    }
}
