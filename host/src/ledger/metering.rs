//! Metering: the price table (`VIBE_PRICE_*`, with the LLM token prices of the gateway's configuration)
//! and the charges other parts make, each to the right user with a reference, so usage shows per agent
//! session, per build and per app ([`super::summary`]).
//!
//! - agent calls: [`Ledger::charge_agent_call`] after a plugin invocation;
//! - builds: [`Ledger::reserve_build`] before the build starts (a user who cannot pay gets a 402 before
//!   any work, never a half-done build), then `settle(id, price)` on success or `release(id)` on failure;
//! - LLM calls: [`llm_cost`] prices the tokens; the gateway reserves the call's ceiling and settles the cost;
//! - app requests: [`Ledger::charge_app_requests`] in [`super::grace`].

use uuid::Uuid;

use super::{
    EntryKind, Ledger, LedgerResult, NewEntry, Posted, Reference, ReferenceKind, Reservation, ReserveRequest,
};

/// Credits for `input` and `output` tokens at `per_1k_input` / `per_1k_output` credits per 1,000, rounded up.
pub fn llm_cost(input: u64, output: u64, per_1k_input: u64, per_1k_output: u64) -> i64 {
    let millis =
        u128::from(input) * u128::from(per_1k_input) + u128::from(output) * u128::from(per_1k_output);
    i64::try_from(millis.div_ceil(1000)).unwrap_or(i64::MAX)
}

/// Credits for `requests` app requests at `per_1k` credits per 1,000, rounded up.
pub fn app_requests_cost(requests: u64, per_1k: i64) -> i64 {
    let per_1k = u128::try_from(per_1k.max(0)).unwrap_or(0);
    i64::try_from((u128::from(requests) * per_1k).div_ceil(1000)).unwrap_or(i64::MAX)
}

/// What `fuel` units of an agent's fuel cost at `per_gigafuel` credits per billion, rounded down.
pub fn agent_fuel_cost(fuel: u64, per_gigafuel: i64) -> i64 {
    let per_gigafuel = u128::try_from(per_gigafuel.max(0)).unwrap_or(0);
    i64::try_from(u128::from(fuel) * per_gigafuel / 1_000_000_000).unwrap_or(i64::MAX)
}

impl Ledger {
    /// Charges one agent call to `user_id`, about `session_id`: its price (`VIBE_PRICE_AGENT_CALL`)
    /// and the `fuel` it burned (`VIBE_PRICE_AGENT_GIGAFUEL`). `call_key` names the call (for
    /// example its id), so a retried charge is applied once.
    pub async fn charge_agent_call(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        call_key: &str,
        fuel: u64,
    ) -> LedgerResult<Option<Posted>> {
        let price = self
            .config
            .price_agent_call
            .max(0)
            .saturating_add(agent_fuel_cost(fuel, self.config.price_agent_gigafuel));
        if price <= 0 {
            return Ok(None);
        }
        let entry = NewEntry {
            user_id,
            kind: EntryKind::Usage,
            amount: -price,
            reason: "agent call".to_owned(),
            reference: Some(Reference::new(ReferenceKind::AgentSession, session_id)),
            idempotency_key: format!("agent_call:{call_key}"),
        };
        self.post(&entry).await.map(Some)
    }

    /// Holds the price of a build (`VIBE_PRICE_BUILD`) of `build_id` for `user_id` before it starts,
    /// for as long as the build may take (`ttl`; the ledger's default when `None`). Settle it with
    /// [`Ledger::build_price`] when the build succeeded; release it when it failed.
    pub async fn reserve_build(
        &self,
        user_id: Uuid,
        build_id: Uuid,
        ttl: Option<std::time::Duration>,
    ) -> LedgerResult<Reservation> {
        self.reserve(&ReserveRequest {
            user_id,
            amount: self.build_price().max(1),
            reason: "build".to_owned(),
            reference: Some(Reference::new(ReferenceKind::Build, build_id)),
            idempotency_key: format!("build:{build_id}"),
            ttl,
        })
        .await
    }

    /// The price of one build.
    pub fn build_price(&self) -> i64 {
        self.config.price_build.max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::agent_fuel_cost;

    #[test]
    fn fuel_costs_whole_credits_per_billion_rounded_down() {
        assert_eq!(agent_fuel_cost(0, 1), 0);
        assert_eq!(agent_fuel_cost(999_999_999, 1), 0, "an ordinary call costs only its price");
        assert_eq!(agent_fuel_cost(2_500_000_000, 1), 2);
        assert_eq!(agent_fuel_cost(2_500_000_000, 4), 10);
        assert_eq!(agent_fuel_cost(u64::MAX, i64::MAX), i64::MAX, "no overflow");
        assert_eq!(agent_fuel_cost(5_000_000_000, -3), 0, "a negative price charges nothing");
    }
}
