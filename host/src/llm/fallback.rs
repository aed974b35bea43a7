//! Retries and fallback: each provider in order gets a first try and up to `max_retries` more
//! on a transient failure (429, 5xx, a connection error, a timeout), with exponential backoff
//! and jitter, or the provider's `retry-after` when it is short; then the next provider. A
//! permanent failure (a 4xx other than 429, an answer that breaks the format) ends the call at
//! once: another provider would be asked the same thing.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::provider::{Provider, ProviderError, Retry};
use crate::agents::runtime::LlmError;

/// The first backoff; each retry doubles it.
const BASE_BACKOFF: Duration = Duration::from_millis(200);
/// The longest backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A `retry-after` longer than this moves on to the next provider instead of waiting.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// How often to retry one provider.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub max_retries: u32,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based): exponential, with jitter in [50 %, 100 %].
    fn backoff(&self, retry: u32) -> Duration {
        let full = BASE_BACKOFF.saturating_mul(1u32 << retry.min(16)).min(MAX_BACKOFF);
        full.mul_f64(0.5 + rand::random::<f64>() / 2.0)
    }
}

/// Runs `attempt` against `providers` in order under `policy`; returns the provider that
/// succeeded with its result, or why none did.
pub async fn run<T, F, Fut>(
    providers: &[Arc<dyn Provider>],
    policy: RetryPolicy,
    mut attempt: F,
) -> Result<(Arc<dyn Provider>, T), LlmError>
where
    F: FnMut(Arc<dyn Provider>) -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut failures = Vec::new();
    let mut all_rate_limited = true;
    for provider in providers {
        for retry in 0..=policy.max_retries {
            let error = match attempt(provider.clone()).await {
                Ok(value) => return Ok((provider.clone(), value)),
                Err(error) => error,
            };
            tracing::warn!(provider = provider.name(), retry, error = %error.message, "an LLM provider call failed");
            let Retry::Transient { after, rate_limited } = error.retry else {
                return Err(LlmError::Provider(format!("{}: {}", provider.name(), error.message)));
            };
            all_rate_limited &= rate_limited;
            failures.push(format!("{}: {}", provider.name(), error.message));
            if retry == policy.max_retries {
                break;
            }
            let wait = match after {
                Some(after) if after <= MAX_RETRY_AFTER => after,
                // The provider asks for a long pause: the next provider may answer sooner.
                Some(_) => break,
                None => policy.backoff(retry),
            };
            tokio::time::sleep(wait).await;
        }
    }
    failures.dedup();
    let summary = failures.join("; ");
    if all_rate_limited && !failures.is_empty() {
        Err(LlmError::RateLimited(format!(
            "every LLM provider is over its rate limit; try again later ({summary})"
        )))
    } else {
        Err(LlmError::Provider(format!("every LLM provider failed: {summary}")))
    }
}
