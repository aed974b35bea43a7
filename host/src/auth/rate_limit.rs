//! Rate limits on login and magic-link requests, per account and per client address.
//!
//! In memory, per process: each `vibe` process enforces its own budget, which bounds guessing to the
//! budget times the number of processes.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// Budgets for authentication attempts.
pub struct AuthRateLimits {
    by_account: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl AuthRateLimits {
    /// `per_minute` attempts a minute for each account and for each client address.
    pub fn new(per_minute: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN));
        AuthRateLimits { by_account: RateLimiter::keyed(quota), by_address: RateLimiter::keyed(quota) }
    }

    /// Counts one attempt for `account` from `address`; refuses when either budget is spent.
    pub fn check(&self, account: &str, address: IpAddr) -> Result<(), ApiError> {
        let address_ok = self.by_address.check_key(&address).is_ok();
        let account_ok = self.by_account.check_key(&account.to_ascii_lowercase()).is_ok();
        if address_ok && account_ok { Ok(()) } else { Err(ApiError::TooManyRequests) }
    }
}
