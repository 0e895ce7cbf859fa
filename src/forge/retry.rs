//! When to retry a forge request and how long to wait: a pure function of the
//! response (status, headers, body), unit-tested without a server.
//!
//! GitHub's rules: 5xx and 429 are retryable; a 403 is a (secondary) rate
//! limit when it carries `retry-after`, `x-ratelimit-remaining: 0`, or says
//! "rate limit" in its message; otherwise a 403 is a real refusal. Honour
//! `retry-after` (seconds); else wait for `x-ratelimit-reset` (epoch seconds);
//! else back off, from a minute for rate limits.

use super::{ForgeError, PrComment};
use crate::event::PrRef;
use http::HeaderMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bounded retry settings for one forge request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total (1 = no retry).
    pub max_attempts: u32,
    /// First backoff for server errors; doubled per attempt.
    pub base_delay: Duration,
    /// Largest backoff between two attempts for server errors.
    pub max_delay: Duration,
    /// Wait used for a rate limit without any header telling how long.
    pub rate_limit_default: Duration,
    /// Longest wait done in-line; a longer one is returned as
    /// `ForgeError::RateLimited` so the job queue reschedules the work.
    pub max_inline_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            rate_limit_default: Duration::from_secs(60),
            max_inline_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy with tiny waits, for tests against a fake forge.
    pub fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            rate_limit_default: Duration::from_millis(50),
            max_inline_wait: Duration::from_secs(2),
        }
    }

    /// Exponential backoff before attempt `attempt + 1` (`attempt` counts from 1),
    /// with up to 25% jitter so replicas do not retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(16);
        let raw = self.base_delay.saturating_mul(1u32 << exp);
        let capped = raw.min(self.max_delay);
        let jitter_ms = (capped.as_millis() as u64) / 4;
        let jitter = if jitter_ms == 0 {
            0
        } else {
            rand::random::<u64>() % (jitter_ms + 1)
        };
        capped.saturating_add(Duration::from_millis(jitter))
    }
}

/// What a response means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx/3xx: done.
    Ok,
    /// 404 (or 410): the object is not there.
    NotFound,
    /// Try again; `wait` is the server's instruction, if it gave one.
    Retry {
        /// How long the server asked to wait.
        wait: Option<Duration>,
        /// A rate limit (as opposed to a server error).
        rate_limited: bool,
    },
    /// Another 4xx: retrying cannot help.
    Permanent,
}

/// Classifies a response. `now_epoch` is the current Unix time in seconds
/// (for `x-ratelimit-reset`).
pub fn classify(status: u16, headers: &HeaderMap, body: &str, now_epoch: u64) -> Verdict {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let retry_after = header("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let remaining_zero = header("x-ratelimit-remaining") == Some("0");
    let reset_wait = header("x-ratelimit-reset")
        .and_then(|v| v.parse::<u64>().ok())
        // One second of slack: the reset time is rounded down.
        .map(|reset| Duration::from_secs(reset.saturating_sub(now_epoch) + 1));
    let server_wait = retry_after.or(if remaining_zero { reset_wait } else { None });

    match status {
        200..=399 => Verdict::Ok,
        404 | 410 => Verdict::NotFound,
        429 => Verdict::Retry {
            wait: server_wait.or(reset_wait),
            rate_limited: true,
        },
        403 => {
            let says_rate_limit = body.to_ascii_lowercase().contains("rate limit");
            if retry_after.is_some() || remaining_zero || says_rate_limit {
                Verdict::Retry {
                    wait: server_wait,
                    rate_limited: true,
                }
            } else {
                Verdict::Permanent
            }
        }
        500..=599 => Verdict::Retry {
            wait: retry_after,
            rate_limited: false,
        },
        _ => Verdict::Permanent,
    }
}

/// What one attempt of a request came to, for [`with_retries`].
#[derive(Debug)]
pub enum Attempt<T> {
    /// Done: the answer.
    Done(T),
    /// Failed for good: no retry.
    Failed(ForgeError),
    /// Worth another try (a [`Verdict::Retry`], or no answer at all).
    Retry {
        /// How long the server asked to wait.
        wait: Option<Duration>,
        /// A rate limit (as opposed to a server error or a lost connection).
        rate_limited: bool,
        /// What happened, for logs and the final error.
        detail: String,
    },
}

/// Runs `attempt` until it is done or fails for good, waiting between tries
/// per `policy`: the server's wait when it gave one, else backoff (server
/// errors) or the rate-limit default. A rate limit longer than the in-line
/// wait, or still there at the last attempt, becomes
/// [`ForgeError::RateLimited`]; exhausted server errors [`ForgeError::Transient`].
/// A request that is not `replay_safe` (it may have acted before failing) is
/// not repeated after a server error: the caller looks before trying again.
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    metrics: &crate::telemetry::metrics::Metrics,
    forge: &str,
    op: &'static str,
    replay_safe: bool,
    mut attempt: F,
) -> Result<T, ForgeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let mut n = 0u32;
    loop {
        n += 1;
        let (wait, rate_limited, detail) = match attempt().await {
            Attempt::Done(v) => return Ok(v),
            Attempt::Failed(e) => return Err(e),
            Attempt::Retry {
                wait,
                rate_limited,
                detail,
            } => (wait, rate_limited, detail),
        };
        if !rate_limited && !replay_safe {
            return Err(ForgeError::Transient {
                op,
                message: format!("{detail} (not repeated: {forge} may have acted on it)"),
            });
        }
        let wait = wait.unwrap_or_else(|| {
            if rate_limited {
                policy.rate_limit_default
            } else {
                policy.backoff(n)
            }
        });
        let exhausted = n >= policy.max_attempts || wait > policy.max_inline_wait;
        if exhausted && rate_limited {
            return Err(ForgeError::RateLimited {
                op,
                retry_after: wait,
            });
        }
        if exhausted {
            return Err(ForgeError::Transient {
                op,
                message: format!("{detail} (after {n} attempts)"),
            });
        }
        tracing::warn!(forge, op, attempt = n, wait_ms = wait.as_millis() as u64, %detail, "forge request failed; retrying");
        metrics.forge_retry(forge, op);
        tokio::time::sleep(wait).await;
    }
}

/// Posts a comment that must not appear twice. After a temporary failure the
/// forge may have stored it anyway, so the comments are read first, and an
/// equal one (the newest) is taken as the posted one; only then is it posted
/// again, within the policy's attempts.
pub async fn post_comment_once<P, PF, L, LF>(
    policy: &RetryPolicy,
    pr: &PrRef,
    text: &str,
    mut post: P,
    mut list: L,
) -> Result<PrComment, ForgeError>
where
    P: FnMut() -> PF,
    PF: Future<Output = Result<PrComment, ForgeError>>,
    L: FnMut() -> LF,
    LF: Future<Output = Result<Vec<PrComment>, ForgeError>>,
{
    let mut n = 0u32;
    loop {
        n += 1;
        match post().await {
            Err(e @ ForgeError::Transient { .. }) => {
                if let Some(c) = list().await?.into_iter().rev().find(|c| c.body == text) {
                    return Ok(c);
                }
                if n >= policy.max_attempts {
                    return Err(e);
                }
                tracing::warn!(pr = %pr, attempt = n, error = %e, "posting a comment failed; retrying");
                tokio::time::sleep(policy.backoff(n)).await;
            }
            other => return other,
        }
    }
}

/// The current Unix time in seconds (for `x-ratelimit-reset`).
pub fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn server_errors_retry_without_a_server_wait() {
        assert_eq!(
            classify(502, &HeaderMap::new(), "", 0),
            Verdict::Retry {
                wait: None,
                rate_limited: false
            }
        );
    }

    #[test]
    fn retry_after_is_honoured() {
        let v = classify(429, &headers(&[("retry-after", "7")]), "", 0);
        assert_eq!(
            v,
            Verdict::Retry {
                wait: Some(Duration::from_secs(7)),
                rate_limited: true
            }
        );
    }

    #[test]
    fn exhausted_primary_limit_waits_for_the_reset() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1000"),
        ]);
        assert_eq!(
            classify(403, &h, "API rate limit exceeded", 990),
            Verdict::Retry {
                wait: Some(Duration::from_secs(11)),
                rate_limited: true
            }
        );
    }

    #[test]
    fn secondary_rate_limit_403_is_retryable_plain_403_is_not() {
        let body = r#"{"message":"You have exceeded a secondary rate limit"}"#;
        assert_eq!(
            classify(403, &HeaderMap::new(), body, 0),
            Verdict::Retry {
                wait: None,
                rate_limited: true
            }
        );
        let body = r#"{"message":"Resource not accessible by integration"}"#;
        assert_eq!(
            classify(403, &HeaderMap::new(), body, 0),
            Verdict::Permanent
        );
    }

    #[test]
    fn other_client_errors_are_permanent() {
        assert_eq!(classify(422, &HeaderMap::new(), "", 0), Verdict::Permanent);
        assert_eq!(classify(404, &HeaderMap::new(), "", 0), Verdict::NotFound);
        assert_eq!(classify(201, &HeaderMap::new(), "", 0), Verdict::Ok);
    }

    #[tokio::test]
    async fn the_driver_retries_then_gives_up_with_the_right_error() {
        let p = RetryPolicy::fast();
        let mut calls = 0;
        let r = with_retries(&p, &Default::default(), "test", "op", true, || {
            calls += 1;
            let c = calls;
            async move {
                if c < 3 {
                    Attempt::Retry {
                        wait: None,
                        rate_limited: false,
                        detail: "502".into(),
                    }
                } else {
                    Attempt::Done(c)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
        let r: Result<(), _> =
            with_retries(&p, &Default::default(), "test", "op", true, || async {
                Attempt::Retry {
                    wait: Some(Duration::from_secs(3600)),
                    rate_limited: true,
                    detail: "429".into(),
                }
            })
            .await;
        assert!(matches!(r, Err(ForgeError::RateLimited { .. })));
        let mut calls = 0;
        let r: Result<(), _> = with_retries(&p, &Default::default(), "test", "op", false, || {
            calls += 1;
            async {
                Attempt::Retry {
                    wait: None,
                    rate_limited: false,
                    detail: "502".into(),
                }
            }
        })
        .await;
        assert!(matches!(r, Err(ForgeError::Transient { .. })));
        assert_eq!(calls, 1, "not replay-safe: tried once");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            ..RetryPolicy::default()
        };
        assert!(p.backoff(1) >= Duration::from_millis(100));
        assert!(p.backoff(1) <= Duration::from_millis(125));
        assert!(p.backoff(10) >= Duration::from_millis(300));
        assert!(p.backoff(10) <= Duration::from_millis(375));
    }
}
