//! Billing of LLM calls to the user who owns the session (the idea's owner), through the credit
//! ledger ([`crate::ledger`]). Before a provider is asked, [`Billing::reserve`] holds the call's
//! ceiling (the request's size and its `max_tokens` at the configured prices) as a ledger reservation
//! keyed `llm_call:<call id>`, refused when the owner's available credits cannot cover it, and records
//! the call as pending in `llm_calls`. Afterwards [`Billing::settle`] charges the actual cost through the
//! reservation (one `usage` entry about the `agent_session`, which the ledger also counts on
//! `agent_sessions.credits_consumed`) and records how the call ended; [`Billing::release`] frees the
//! hold of a call that never got going. A process that dies in between leaves the hold to the ledger's
//! expiry sweep.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::agents::runtime::{LlmCallInfo, LlmError, LlmUsage};
use crate::ledger::{
    EntryKind, Ledger, LedgerError, NewEntry, Reference, ReferenceKind, ReserveRequest, metering,
};

/// Prices in credits.
#[derive(Clone, Copy, Debug)]
pub struct Prices {
    pub per_1k_input: u64,
    pub per_1k_output: u64,
}

impl Prices {
    /// What `usage` costs, rounded up to a whole credit.
    pub fn cost(&self, usage: LlmUsage) -> i64 {
        metering::llm_cost(
            u64::from(usage.input_tokens),
            u64::from(usage.output_tokens),
            self.per_1k_input,
            self.per_1k_output,
        )
    }
}

/// A call recorded as pending, with the credits held for it.
#[derive(Clone, Debug)]
pub struct Reservation {
    pub call_id: Uuid,
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// The ledger reservation; `None` when the call is free (prices of zero).
    pub hold: Option<Uuid>,
}

/// How a call ended.
#[derive(Clone, Debug)]
pub struct Settlement {
    pub provider: Option<&'static str>,
    pub model: Option<String>,
    pub usage: LlmUsage,
    /// `None` when the call succeeded.
    pub error: Option<String>,
    pub latency: Duration,
}

/// Billing through the ledger, with the calls recorded in the platform database.
#[derive(Clone)]
pub struct Billing {
    ledger: Ledger,
    prices: Prices,
}

impl Billing {
    pub fn new(ledger: Ledger, prices: Prices) -> Self {
        Billing { ledger, prices }
    }

    pub fn prices(&self) -> Prices {
        self.prices
    }

    fn db(&self) -> &PgPool {
        self.ledger.db()
    }

    /// The user who pays for `call`: the owner of the session's idea.
    pub async fn owner(&self, call: &LlmCallInfo) -> Result<Uuid, LlmError> {
        let owner: Option<Uuid> = sqlx::query_scalar(
            "SELECT i.user_id FROM agent_sessions s JOIN ideas i ON i.id = s.idea_id \
             WHERE s.id = $1 AND s.idea_id = $2",
        )
        .bind(call.session_id)
        .bind(call.idea_id)
        .fetch_optional(self.db())
        .await
        .map_err(|error| unavailable("finding the session's owner", &error))?;
        owner.ok_or_else(|| LlmError::Denied("this session is not known to the LLM gateway".to_owned()))
    }

    /// Holds `ceiling` credits of `user_id` for the call (refused when they are not available) and
    /// records the call as pending.
    pub async fn reserve(
        &self,
        call: &LlmCallInfo,
        user_id: Uuid,
        ceiling: i64,
        streamed: bool,
    ) -> Result<Reservation, LlmError> {
        let call_id = Uuid::now_v7();
        let hold = if ceiling > 0 {
            let request = ReserveRequest {
                user_id,
                amount: ceiling,
                reason: "LLM call".to_owned(),
                reference: Some(Reference::new(ReferenceKind::AgentSession, call.session_id)),
                idempotency_key: call_key(call_id),
                ttl: None,
            };
            match self.ledger.reserve(&request).await {
                Ok(hold) => Some(hold.id),
                Err(LedgerError::Insufficient { available, needed }) => {
                    return Err(LlmError::InsufficientCredits(format!(
                        "this call may cost up to {needed} credits and {available} are available; add credits \
                         or ask for fewer tokens"
                    )));
                }
                Err(error @ LedgerError::SpendingPaused { .. }) => {
                    return Err(LlmError::Denied(error.to_string()));
                }
                Err(LedgerError::UnknownUser) => {
                    return Err(LlmError::Denied("the session's owner no longer exists".to_owned()));
                }
                Err(error) => return Err(ledger_failed("holding the call's credits", &error)),
            }
        } else {
            None
        };
        let recorded = sqlx::query(
            "INSERT INTO llm_calls (id, session_id, idea_id, user_id, plugin_name, plugin_version, streamed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(call_id)
        .bind(call.session_id)
        .bind(call.idea_id)
        .bind(user_id)
        .bind(&call.plugin_name)
        .bind(&call.plugin_version)
        .bind(streamed)
        .execute(self.db())
        .await;
        let reservation = Reservation { call_id, user_id, session_id: call.session_id, hold };
        if let Err(error) = recorded {
            self.release_hold(&reservation).await;
            return Err(unavailable("recording the call", &error));
        }
        Ok(reservation)
    }

    /// Charges the call's cost through its reservation and records how it ended; returns the credits
    /// charged. A cost above the ceiling (a provider counting more input tokens than estimated) is
    /// charged as a second entry as far as the balance allows. Settling a call twice charges it once.
    pub async fn settle(&self, reservation: &Reservation, settlement: &Settlement) -> Result<i64, LlmError> {
        let cost = self.prices.cost(settlement.usage);
        let mut charged = match reservation.hold {
            Some(hold) => match self.ledger.settle(hold, cost).await {
                Ok(settled) => settled.charged,
                // The owner was deleted meanwhile: the hold and the call's row went with them.
                Err(LedgerError::UnknownReservation) => return Ok(0),
                Err(error) => return Err(ledger_failed("billing the call", &error)),
            },
            None => 0,
        };
        if cost > charged {
            charged += self.charge_excess(reservation, cost - charged).await;
        }
        let updated = sqlx::query(
            "UPDATE llm_calls SET provider = $2, model = $3, input_tokens = $4, output_tokens = $5, credits = $6, \
             outcome = $7, error = $8, latency_ms = $9, finished_at = now() WHERE id = $1 AND outcome = 'pending'",
        )
        .bind(reservation.call_id)
        .bind(settlement.provider)
        .bind(settlement.model.as_deref())
        .bind(i32::try_from(settlement.usage.input_tokens).unwrap_or(i32::MAX))
        .bind(i32::try_from(settlement.usage.output_tokens).unwrap_or(i32::MAX))
        .bind(charged)
        .bind(if settlement.error.is_none() { "ok" } else { "failed" })
        .bind(settlement.error.as_deref())
        .bind(i32::try_from(settlement.latency.as_millis()).unwrap_or(i32::MAX))
        .execute(self.db())
        .await
        .map_err(|error| unavailable("recording the call", &error))?;
        if updated.rows_affected() == 0 {
            tracing::debug!(call = %reservation.call_id, "an LLM call was settled again");
        }
        if charged < cost {
            tracing::warn!(call = %reservation.call_id, cost, charged, "an LLM call cost more than the balance left");
        }
        Ok(charged)
    }

    /// Frees the hold of a call that got no answer from any provider and records its failure; nothing
    /// is charged.
    pub async fn release(&self, reservation: &Reservation, settlement: &Settlement) {
        self.release_hold(reservation).await;
        let recorded = sqlx::query(
            "UPDATE llm_calls SET outcome = 'failed', error = $2, latency_ms = $3, finished_at = now() \
             WHERE id = $1 AND outcome = 'pending'",
        )
        .bind(reservation.call_id)
        .bind(settlement.error.as_deref())
        .bind(i32::try_from(settlement.latency.as_millis()).unwrap_or(i32::MAX))
        .execute(self.db())
        .await;
        if let Err(error) = recorded {
            tracing::error!(error = %error, call = %reservation.call_id, "a failed LLM call could not be recorded");
        }
    }

    async fn release_hold(&self, reservation: &Reservation) {
        let Some(hold) = reservation.hold else { return };
        if let Err(error) = self.ledger.release(hold).await {
            // The hold expires on its own; the sweep frees it.
            tracing::warn!(error = %error, call = %reservation.call_id, "releasing an LLM call's credits failed");
        }
    }

    /// Charges what a call cost beyond its reservation, if the owner's available credits cover it;
    /// returns the credits charged.
    async fn charge_excess(&self, reservation: &Reservation, excess: i64) -> i64 {
        let entry = NewEntry {
            user_id: reservation.user_id,
            kind: EntryKind::Usage,
            amount: -excess,
            reason: "LLM call (beyond its estimate)".to_owned(),
            reference: Some(Reference::new(ReferenceKind::AgentSession, reservation.session_id)),
            idempotency_key: format!("{}:excess", call_key(reservation.call_id)),
        };
        match self.ledger.post(&entry).await {
            Ok(_) => excess,
            Err(error) => {
                tracing::warn!(error = %error, call = %reservation.call_id, excess, "an LLM call's excess was not charged");
                0
            }
        }
    }
}

/// The ledger key of a call's reservation (and so of its usage entry's reference).
pub fn call_key(call_id: Uuid) -> String {
    format!("llm_call:{call_id}")
}

/// A database failure, logged in full and shown to the agent without internals.
fn unavailable(what: &str, error: &sqlx::Error) -> LlmError {
    tracing::error!(error = %error, "LLM gateway: {what} failed");
    LlmError::Provider(format!("{what} is unavailable right now; try again"))
}

/// A ledger failure other than a refusal the agent should see, handled like [`unavailable`].
fn ledger_failed(what: &str, error: &LedgerError) -> LlmError {
    tracing::error!(error = %error, "LLM gateway: {what} failed");
    LlmError::Provider(format!("{what} is unavailable right now; try again"))
}
