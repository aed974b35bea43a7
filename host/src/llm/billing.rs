//! Billing of LLM calls to the user who owns the session (the idea's owner). Before a provider is
//! asked, [`Billing::reserve`] locks the owner's row, refuses a call whose ceiling (the request's
//! size and its `max_tokens` at the configured prices) the balance minus other pending calls
//! cannot cover, and records the call as pending with that reservation. Afterwards
//! [`Billing::settle`] charges the actual cost (never more than the balance) in one transaction:
//! the ledger entry (`usage`, about the `agent_session`, keyed by the call), the new balance,
//! `agent_sessions.credits_consumed` and the call's `llm_calls` row.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::agents::runtime::{LlmCallInfo, LlmError, LlmUsage};
use crate::credits::{self, CreditError, Entry, EntryKind};

/// Prices in credits.
#[derive(Clone, Copy, Debug)]
pub struct Prices {
    pub per_1k_input: u64,
    pub per_1k_output: u64,
}

impl Prices {
    /// What `usage` costs, rounded up to a whole credit.
    pub fn cost(&self, usage: LlmUsage) -> i64 {
        let millis = u128::from(usage.input_tokens) * u128::from(self.per_1k_input)
            + u128::from(usage.output_tokens) * u128::from(self.per_1k_output);
        i64::try_from(millis.div_ceil(1000)).unwrap_or(i64::MAX)
    }
}

/// A call recorded as pending, with the credits set aside for it.
#[derive(Clone, Debug)]
pub struct Reservation {
    pub call_id: Uuid,
    pub user_id: Uuid,
    pub session_id: Uuid,
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

/// Billing against the platform database.
#[derive(Clone)]
pub struct Billing {
    db: PgPool,
    prices: Prices,
}

impl Billing {
    pub fn new(db: PgPool, prices: Prices) -> Self {
        Billing { db, prices }
    }

    pub fn prices(&self) -> Prices {
        self.prices
    }

    /// The user who pays for `call`: the owner of the session's idea.
    pub async fn owner(&self, call: &LlmCallInfo) -> Result<Uuid, LlmError> {
        let owner: Option<Uuid> = sqlx::query_scalar(
            "SELECT i.user_id FROM agent_sessions s JOIN ideas i ON i.id = s.idea_id \
             WHERE s.id = $1 AND s.idea_id = $2",
        )
        .bind(call.session_id)
        .bind(call.idea_id)
        .fetch_optional(&self.db)
        .await
        .map_err(|error| unavailable("finding the session's owner", &error))?;
        owner.ok_or_else(|| LlmError::Denied("this session is not known to the LLM gateway".to_owned()))
    }

    /// Refuses the call when `ceiling` credits are not available to `user_id`; otherwise records
    /// it as pending with `ceiling` set aside.
    pub async fn reserve(
        &self,
        call: &LlmCallInfo,
        user_id: Uuid,
        ceiling: i64,
        streamed: bool,
    ) -> Result<Reservation, LlmError> {
        let failed = |error: sqlx::Error| unavailable("checking the balance", &error);
        let mut tx = self.db.begin().await.map_err(failed)?;
        let balance = match credits::lock_balance(&mut tx, user_id).await {
            Ok(balance) => balance,
            Err(CreditError::Database(error)) => return Err(failed(error)),
            Err(_) => return Err(LlmError::Denied("the session's owner no longer exists".to_owned())),
        };
        let held: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(reserved_credits), 0)::bigint FROM llm_calls \
             WHERE user_id = $1 AND outcome = 'pending' AND started_at > now() - interval '15 minutes'",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(failed)?;
        let available = (balance - held).max(0);
        if ceiling > available {
            return Err(LlmError::InsufficientCredits(format!(
                "this call may cost up to {ceiling} credits and {available} are available \
                 (balance {balance}); add credits or ask for fewer tokens"
            )));
        }
        let call_id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO llm_calls (id, session_id, idea_id, user_id, plugin_name, plugin_version, streamed, \
             reserved_credits) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(call_id)
        .bind(call.session_id)
        .bind(call.idea_id)
        .bind(user_id)
        .bind(&call.plugin_name)
        .bind(&call.plugin_version)
        .bind(streamed)
        .bind(ceiling)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(Reservation { call_id, user_id, session_id: call.session_id })
    }

    /// Charges the call's cost (at most the balance) and records how it ended, in one
    /// transaction; returns the credits charged. Settling a call twice charges it once.
    pub async fn settle(&self, reservation: &Reservation, settlement: &Settlement) -> Result<i64, LlmError> {
        let failed = |error: sqlx::Error| unavailable("billing the call", &error);
        let cost = self.prices.cost(settlement.usage);
        let mut tx = self.db.begin().await.map_err(failed)?;
        let balance = match credits::lock_balance(&mut tx, reservation.user_id).await {
            Ok(balance) => balance,
            Err(CreditError::Database(error)) => return Err(failed(error)),
            // The owner was deleted meanwhile: the call's row went with them.
            Err(_) => return Ok(0),
        };
        let charged = cost.min(balance);
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
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        if updated.rows_affected() == 0 {
            return Ok(0);
        }
        if charged > 0 {
            let reason = format!(
                "LLM call ({} {})",
                settlement.provider.unwrap_or("no provider"),
                settlement.model.as_deref().unwrap_or("")
            );
            let entry = Entry {
                user_id: reservation.user_id,
                kind: EntryKind::Usage,
                amount: -charged,
                reason: reason.trim_end(),
                reference: Some(("agent_session", reservation.session_id.to_string())),
                idempotency_key: &format!("llm_call:{}", reservation.call_id),
            };
            match credits::apply(&mut tx, &entry).await {
                Ok(_) => {}
                Err(CreditError::Database(error)) => return Err(failed(error)),
                Err(error) => {
                    return Err(LlmError::Provider(format!("the call could not be billed: {error}")));
                }
            }
            sqlx::query("UPDATE agent_sessions SET credits_consumed = credits_consumed + $2 WHERE id = $1")
                .bind(reservation.session_id)
                .bind(charged)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)?;
        if charged < cost {
            tracing::warn!(call = %reservation.call_id, cost, charged, "an LLM call cost more than the balance left");
        }
        Ok(charged)
    }
}

/// A database failure, logged in full and shown to the agent without internals.
fn unavailable(what: &str, error: &sqlx::Error) -> LlmError {
    tracing::error!(error = %error, "LLM gateway: {what} failed");
    LlmError::Provider(format!("{what} is unavailable right now; try again"))
}
