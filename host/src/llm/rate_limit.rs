//! Calls per minute per user, across all of the user's sessions and agents. In memory, per
//! process (like the login limits in `auth/rate_limit.rs`): each `vibe` process enforces its own
//! budget; credits bound the spending cluster-wide.

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::agents::runtime::LlmError;

/// The per-user budget of LLM calls.
pub struct UserRateLimits {
    per_minute: u32,
    limiter: DefaultKeyedRateLimiter<Uuid>,
}

impl UserRateLimits {
    /// `per_minute` calls a minute for each user (at least one).
    pub fn new(per_minute: u32) -> Self {
        let per_minute = per_minute.max(1);
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        UserRateLimits { per_minute, limiter: RateLimiter::keyed(quota) }
    }

    /// Counts one call of `user_id`; refuses when the budget is spent.
    pub fn check(&self, user_id: Uuid) -> Result<(), LlmError> {
        self.limiter.check_key(&user_id).map_err(|_| {
            LlmError::RateLimited(format!(
                "this account may make {} LLM calls a minute; try again shortly",
                self.per_minute
            ))
        })
    }
}
