//! One generic poller, as terraform-provider-aws's waiters: poll until the
//! target state is seen (as many times in a row as asked), fail on timeout,
//! stop at once when Terraform cancels (StopProvider).
//!
//! The AWS SDK's own waiters are not used: none of them says which step a
//! timeout cut short (see [`super::step`]), stops on StopProvider, or waits
//! for what the resources need (an instance profile usable by Auto Scaling,
//! N nodes in service on one launch template version).

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum WaitError<E: std::fmt::Display> {
    #[error("timeout after {0:?} while waiting for {1}")]
    Timeout(Duration, String),
    #[error("cancelled by Terraform while waiting for {0}")]
    Cancelled(String),
    #[error("{0}")]
    Failed(E),
    /// The object reached a state it does not leave (e.g. a load balancer
    /// `failed`): waiting longer cannot help.
    #[error("{1} (while waiting for {0})")]
    Stuck(String, String),
}

/// What one poll saw.
pub enum Poll<T> {
    Done(T),
    Pending,
    /// A state the object does not leave, and why.
    Stuck(String),
}

/// How long and how often to poll, and how many polls in a row must see the
/// target state (more than one rides out a read that lags a write).
///
/// The interval starts short and grows (as terraform-provider-aws's waiters
/// back off): a state AWS reaches in a second is seen within a second, and a
/// wait of minutes costs a poll every [`MAX_INTERVAL`], fewer calls than a
/// fixed short interval (AWS throttles describes per account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiter {
    pub timeout: Duration,
    /// The first interval: each next one a quarter longer, up to `max_interval`.
    pub interval: Duration,
    pub max_interval: Duration,
    pub hits: u32,
}

/// The first interval of [`Waiter::new`].
pub const FIRST_INTERVAL: Duration = Duration::from_millis(500);
/// The longest interval of [`Waiter::new`].
pub const MAX_INTERVAL: Duration = Duration::from_secs(5);

impl Waiter {
    /// Polls after 0.5 s, then ever less often, up to every 5 s (reached
    /// after about 20 s); done at the first poll that sees the target.
    pub const fn new(timeout: Duration) -> Self {
        Waiter {
            timeout,
            interval: FIRST_INTERVAL,
            max_interval: MAX_INTERVAL,
            hits: 1,
        }
    }

    /// Polls at a fixed interval.
    pub const fn every(self, interval: Duration) -> Self {
        Waiter {
            interval,
            max_interval: interval,
            ..self
        }
    }

    pub const fn hits(self, hits: u32) -> Self {
        Waiter { hits, ..self }
    }

    /// The interval after `now`: a quarter longer (a state seen at most a
    /// quarter of its wait late), capped.
    fn next_interval(&self, now: Duration) -> Duration {
        (now + now / 4).min(self.max_interval.max(self.interval))
    }

    /// Polls `f` until it is `Done` on `hits` consecutive polls.
    pub async fn until<T, E, F, Fut>(
        &self,
        what: &str,
        cancel: &CancellationToken,
        f: F,
    ) -> Result<T, WaitError<E>>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Poll<T>, E>>,
    {
        // Reported to the operation's steps (see [`super::step`]) while it
        // lasts; a wait cut short by the operation's deadline stays reported.
        super::step::wait(Some(what));
        let r = poll_until(what, self, cancel, f).await;
        super::step::wait_done(what);
        r
    }
}

async fn poll_until<T, E, F, Fut>(
    what: &str,
    w: &Waiter,
    cancel: &CancellationToken,
    mut f: F,
) -> Result<T, WaitError<E>>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    let start = Instant::now();
    let mut seen = 0;
    let mut interval = w.interval;
    loop {
        match f().await.map_err(WaitError::Failed)? {
            Poll::Done(t) => {
                seen += 1;
                if seen >= w.hits.max(1) {
                    return Ok(t);
                }
            }
            Poll::Pending => seen = 0,
            Poll::Stuck(why) => return Err(WaitError::Stuck(what.to_string(), why)),
        }
        if start.elapsed() >= w.timeout {
            return Err(WaitError::Timeout(w.timeout, what.to_string()));
        }
        tokio::select! {
            _ = cancel.cancelled() => return Err(WaitError::Cancelled(what.to_string())),
            _ = tokio::time::sleep(interval) => {}
        }
        interval = w.next_interval(interval);
    }
}

/// Parses a Go-style duration as Terraform users write it: `30s`, `10m`, `1h30m`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            unit = "ms".into();
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        any = true;
    }
    if !num.is_empty() || !any {
        return None;
    }
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("ten minutes"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[tokio::test]
    async fn waits_for_consecutive_hits_and_times_out() {
        let cancel = CancellationToken::new();
        let mut n = 0;
        let r: Result<u32, WaitError<String>> = Waiter::new(Duration::from_secs(5))
            .every(Duration::from_millis(1))
            .hits(2)
            .until("x", &cancel, || {
                n += 1;
                let v = n;
                async move { Ok(if v >= 3 { Poll::Done(v) } else { Poll::Pending }) }
            })
            .await;
        assert_eq!(r.ok(), Some(4));
        let r: Result<(), WaitError<String>> = Waiter::new(Duration::from_millis(5))
            .every(Duration::from_millis(1))
            .until("y", &cancel, || async { Ok(Poll::Pending) })
            .await;
        assert!(matches!(r, Err(WaitError::Timeout(..))));
    }

    #[test]
    fn intervals_back_off_to_their_cap() {
        let w = Waiter::new(Duration::from_secs(60));
        let mut i = w.interval;
        let mut seen = vec![i];
        for _ in 0..12 {
            i = w.next_interval(i);
            seen.push(i);
        }
        assert_eq!(seen[0], Duration::from_millis(500));
        assert_eq!(seen[1], Duration::from_millis(625));
        assert!(seen.windows(2).all(|p| p[0] <= p[1]));
        assert_eq!(seen[12], MAX_INTERVAL);
        let fixed = w.every(Duration::from_secs(2));
        assert_eq!(fixed.next_interval(fixed.interval), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn cancellation_stops_waiting() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let r: Result<(), WaitError<String>> = Waiter::new(Duration::from_secs(60))
            .every(Duration::from_secs(10))
            .until("z", &cancel, || async { Ok(Poll::Pending) })
            .await;
        assert!(matches!(r, Err(WaitError::Cancelled(_))));
    }
}
