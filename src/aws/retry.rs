//! How AWS calls are retried: the attempt budget and mode, resolved as the
//! AWS provider documents it (provider argument > environment > shared
//! config file > default), and a cap on retries of calls that never reached
//! AWS (see [`crate::aws::error::DispatchFailure`]).

use aws_config::retry::{RetryConfig, RetryMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Retries when nothing says otherwise, as in the AWS provider.
pub const DEFAULT_MAX_RETRIES: u32 = 25;

/// Attempts of one call that cannot reach its endpoint (DNS failure,
/// connection refused, connect timeout): the first and one retry.
pub const MAX_DISPATCH_ATTEMPTS: u32 = 2;

/// Where a setting came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Provider,
    Environment,
    SharedConfig,
    Default,
}

/// The raw settings, from each place they can be given.
#[derive(Debug, Default, Clone)]
pub struct RetryInputs {
    /// The provider's `max_retries` (retries, so attempts are one more).
    pub max_retries: Option<u32>,
    /// The provider's `retry_mode`.
    pub retry_mode: Option<String>,
    /// `AWS_MAX_ATTEMPTS`.
    pub env_max_attempts: Option<String>,
    /// `AWS_RETRY_MODE`.
    pub env_retry_mode: Option<String>,
    /// `max_attempts` of the selected profile of the shared config file.
    pub profile_max_attempts: Option<String>,
    /// `retry_mode` of the selected profile of the shared config file.
    pub profile_retry_mode: Option<String>,
}

/// A setting that could not be used: which one, where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} = {value:?} ({where_}): {reason}")]
pub struct InvalidSetting {
    pub name: &'static str,
    pub value: String,
    pub where_: &'static str,
    pub source_kind: Source,
    pub reason: &'static str,
}

/// The resolved retry settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    pub max_attempts: u32,
    pub mode: RetryMode,
    pub max_attempts_from: Source,
    pub mode_from: Source,
}

impl RetrySettings {
    pub fn retry_config(&self) -> RetryConfig {
        let base = match self.mode {
            RetryMode::Adaptive => RetryConfig::adaptive(),
            _ => RetryConfig::standard(),
        };
        base.with_max_attempts(self.max_attempts)
    }
}

/// `standard` or `adaptive` (any case), as the AWS SDKs accept them.
pub fn parse_mode(s: &str) -> Option<RetryMode> {
    match s.trim().to_ascii_lowercase().as_str() {
        "standard" => Some(RetryMode::Standard),
        "adaptive" => Some(RetryMode::Adaptive),
        _ => None,
    }
}

fn parse_attempts(s: &str) -> Option<u32> {
    s.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=101).contains(n))
}

/// Provider argument > environment variable > shared config file > default
/// (25 retries, standard mode). Invalid values are errors, never ignored.
pub fn resolve(i: &RetryInputs) -> Result<RetrySettings, InvalidSetting> {
    let bad = |name, value: &str, where_, source_kind, reason| InvalidSetting {
        name,
        value: value.to_string(),
        where_,
        source_kind,
        reason,
    };
    const ATTEMPTS: &str = "must be a whole number of attempts from 1 to 101";
    const MODE: &str = "must be \"standard\" or \"adaptive\"";
    let (max_attempts, max_attempts_from) = if let Some(r) = i.max_retries {
        (r.saturating_add(1), Source::Provider)
    } else if let Some(s) = &i.env_max_attempts {
        let n = parse_attempts(s).ok_or_else(|| {
            bad(
                "AWS_MAX_ATTEMPTS",
                s,
                "environment variable",
                Source::Environment,
                ATTEMPTS,
            )
        })?;
        (n, Source::Environment)
    } else if let Some(s) = &i.profile_max_attempts {
        let n = parse_attempts(s).ok_or_else(|| {
            bad(
                "max_attempts",
                s,
                "shared config file",
                Source::SharedConfig,
                ATTEMPTS,
            )
        })?;
        (n, Source::SharedConfig)
    } else {
        (DEFAULT_MAX_RETRIES + 1, Source::Default)
    };
    let (mode, mode_from) = if let Some(s) = &i.retry_mode {
        let m = parse_mode(s)
            .ok_or_else(|| bad("retry_mode", s, "provider block", Source::Provider, MODE))?;
        (m, Source::Provider)
    } else if let Some(s) = &i.env_retry_mode {
        let m = parse_mode(s).ok_or_else(|| {
            bad(
                "AWS_RETRY_MODE",
                s,
                "environment variable",
                Source::Environment,
                MODE,
            )
        })?;
        (m, Source::Environment)
    } else if let Some(s) = &i.profile_retry_mode {
        let m = parse_mode(s).ok_or_else(|| {
            bad(
                "retry_mode",
                s,
                "shared config file",
                Source::SharedConfig,
                MODE,
            )
        })?;
        (m, Source::SharedConfig)
    } else {
        (RetryMode::Standard, Source::Default)
    };
    Ok(RetrySettings {
        max_attempts,
        mode,
        max_attempts_from,
        mode_from,
    })
}

/// Dispatch failures seen by one call so far.
#[derive(Debug, Clone, Copy)]
struct DispatchFailures(u32);

impl Storable for DispatchFailures {
    type Storer = StoreReplace<DispatchFailures>;
}

/// Ends a call's retries after [`MAX_DISPATCH_ATTEMPTS`] attempts that could
/// not reach the endpoint, whatever the attempt budget: a wrong region or
/// endpoint then fails in seconds, with its cause, instead of after 25
/// backed-off retries. Throttling and 5xx answers keep the full budget.
#[derive(Debug, Default)]
pub struct CapDispatchRetries;

impl Intercept for CapDispatchRetries {
    fn name(&self) -> &'static str {
        "datomic::retry::CapDispatchRetries"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let failed_to_dispatch = matches!(
            context.output_or_error(),
            Some(Err(e)) if e
                .as_connector_error()
                .and_then(|c| super::error::classify_dispatch(c))
                .is_some()
        );
        if !failed_to_dispatch {
            return Ok(());
        }
        let seen = cfg.load::<DispatchFailures>().map_or(0, |d| d.0) + 1;
        cfg.interceptor_state().store_put(DispatchFailures(seen));
        if seen >= MAX_DISPATCH_ATTEMPTS {
            // The retry strategy stops once the attempts reach the
            // configured maximum: make this attempt the last one.
            let attempts = cfg.load::<RequestAttempts>().map_or(seen, |a| a.attempts());
            if let Some(rc) = cfg.load::<RetryConfig>().cloned() {
                if rc.max_attempts() > attempts {
                    cfg.interceptor_state()
                        .store_put(rc.with_max_attempts(attempts));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> RetryInputs {
        RetryInputs::default()
    }

    #[test]
    fn default_is_25_retries_standard() {
        let s = resolve(&inputs()).unwrap();
        assert_eq!(s.max_attempts, 26);
        assert_eq!(s.mode, RetryMode::Standard);
        assert_eq!(
            (s.max_attempts_from, s.mode_from),
            (Source::Default, Source::Default)
        );
    }

    #[test]
    fn provider_beats_env_beats_shared_config() {
        let mut i = RetryInputs {
            profile_max_attempts: Some("7".into()),
            profile_retry_mode: Some("adaptive".into()),
            ..inputs()
        };
        let s = resolve(&i).unwrap();
        assert_eq!((s.max_attempts, s.mode), (7, RetryMode::Adaptive));
        assert_eq!(s.max_attempts_from, Source::SharedConfig);

        i.env_max_attempts = Some("1".into());
        i.env_retry_mode = Some("Standard".into());
        let s = resolve(&i).unwrap();
        assert_eq!((s.max_attempts, s.mode), (1, RetryMode::Standard));
        assert_eq!(
            (s.max_attempts_from, s.mode_from),
            (Source::Environment, Source::Environment)
        );

        i.max_retries = Some(3);
        i.retry_mode = Some("adaptive".into());
        let s = resolve(&i).unwrap();
        assert_eq!((s.max_attempts, s.mode), (4, RetryMode::Adaptive));
        assert_eq!(
            (s.max_attempts_from, s.mode_from),
            (Source::Provider, Source::Provider)
        );
    }

    #[test]
    fn zero_retries_is_one_attempt() {
        let s = resolve(&RetryInputs {
            max_retries: Some(0),
            env_max_attempts: Some("9".into()),
            ..inputs()
        })
        .unwrap();
        assert_eq!(s.max_attempts, 1);
    }

    #[test]
    fn invalid_values_are_errors_naming_their_source() {
        let e = resolve(&RetryInputs {
            env_max_attempts: Some("0".into()),
            ..inputs()
        })
        .unwrap_err();
        assert_eq!(
            (e.name, e.source_kind),
            ("AWS_MAX_ATTEMPTS", Source::Environment)
        );
        let e = resolve(&RetryInputs {
            profile_retry_mode: Some("legacy".into()),
            ..inputs()
        })
        .unwrap_err();
        assert_eq!(
            (e.name, e.source_kind),
            ("retry_mode", Source::SharedConfig)
        );
        // A valid higher-precedence value hides an invalid lower one.
        assert!(resolve(&RetryInputs {
            env_max_attempts: Some("2".into()),
            profile_max_attempts: Some("x".into()),
            ..inputs()
        })
        .is_ok());
    }

    #[test]
    fn the_resolved_config_carries_mode_and_attempts() {
        let s = resolve(&RetryInputs {
            max_retries: Some(2),
            retry_mode: Some("adaptive".into()),
            ..inputs()
        })
        .unwrap();
        let rc = s.retry_config();
        assert_eq!((rc.max_attempts(), rc.mode()), (3, RetryMode::Adaptive));
    }
}
