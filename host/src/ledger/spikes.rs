//! The consumption-spike alert: more than `VIBE_CREDITS_SPIKE_CREDITS` spent within
//! `VIBE_CREDITS_SPIKE_MINUTES` pauses the user's spending for `VIBE_CREDITS_SPIKE_PAUSE_MINUTES` (or until
//! an operator lifts it) and notifies the user and the operators. A runaway agent loop or a leaked token
//! then costs a bounded amount. Work already reserved may still settle: it was done.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{CreditsConfig, Ledger, LedgerError, LedgerResult, rfc3339};

/// A pause this spend started.
#[derive(Clone, Debug)]
pub struct Spike {
    /// Credits spent within the window, this spend included.
    pub spent: i64,
    pub window_minutes: i64,
    pub until: OffsetDateTime,
}

/// Refuses spending while a pause is in force.
pub async fn refuse_if_paused(conn: &mut PgConnection, user_id: Uuid) -> LedgerResult<()> {
    let until: Option<OffsetDateTime> =
        sqlx::query_scalar("SELECT until FROM credit_spend_pauses WHERE user_id = $1 AND until > now()")
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
    match until {
        Some(until) => Err(LedgerError::SpendingPaused { until: rfc3339(until) }),
        None => Ok(()),
    }
}

/// After a usage entry (the user's row is locked): starts a pause when the window's spending passed the
/// limit and no pause is in force.
pub async fn detect(
    conn: &mut PgConnection,
    user_id: Uuid,
    config: &CreditsConfig,
) -> LedgerResult<Option<Spike>> {
    if config.spike_credits <= 0 {
        return Ok(None);
    }
    let spent: i64 = sqlx::query_scalar(
        "SELECT COALESCE(-SUM(amount), 0)::bigint FROM credit_ledger \
         WHERE user_id = $1 AND kind = 'usage' AND created_at > now() - make_interval(mins => $2)",
    )
    .bind(user_id)
    .bind(i32::try_from(config.spike_minutes).unwrap_or(i32::MAX))
    .fetch_one(&mut *conn)
    .await?;
    if spent <= config.spike_credits {
        return Ok(None);
    }
    // A pause that expired is replaced; one in force is left alone (and was announced when it started).
    let until: Option<OffsetDateTime> = sqlx::query_scalar(
        "INSERT INTO credit_spend_pauses (user_id, reason, until) \
         VALUES ($1, $2, now() + make_interval(mins => $3)) \
         ON CONFLICT (user_id) DO UPDATE SET reason = EXCLUDED.reason, paused_at = now(), until = EXCLUDED.until \
         WHERE credit_spend_pauses.until <= now() \
         RETURNING until",
    )
    .bind(user_id)
    .bind(format!("{spent} credits spent within {} minutes", config.spike_minutes))
    .bind(i32::try_from(config.spike_pause_minutes).unwrap_or(i32::MAX))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(until.map(|until| Spike { spent, window_minutes: config.spike_minutes, until }))
}

/// A pause in force, if any: its reason and end.
pub async fn current_pause(
    db: &sqlx::PgPool,
    user_id: Uuid,
) -> LedgerResult<Option<(String, OffsetDateTime)>> {
    Ok(sqlx::query_as("SELECT reason, until FROM credit_spend_pauses WHERE user_id = $1 AND until > now()")
        .bind(user_id)
        .fetch_optional(db)
        .await?)
}

impl Ledger {
    /// Lifts `user_id`'s spending pause (an operator decided the spike was fine). Returns whether one was
    /// in force.
    pub async fn lift_pause(&self, user_id: Uuid) -> LedgerResult<bool> {
        let lifted = sqlx::query("DELETE FROM credit_spend_pauses WHERE user_id = $1 AND until > now()")
            .bind(user_id)
            .execute(&self.db)
            .await?
            .rows_affected();
        if lifted > 0 {
            self.notify_user(
                user_id,
                serde_json::json!({
                    "kind": "credits_spending_resumed",
                    "message": "An operator lifted the pause on your spending.",
                }),
            )
            .await;
        }
        Ok(lifted > 0)
    }

    /// Tells the user and the operators that a spike paused spending.
    pub(super) async fn announce_spike(&self, user_id: Uuid, spike: &Spike) {
        let until = rfc3339(spike.until);
        tracing::warn!(%user_id, spent = spike.spent, %until, "credits: consumption spike, spending paused");
        self.notify_user(
            user_id,
            serde_json::json!({
                "kind": "credits_spike",
                "message": format!(
                    "You spent {} credits within {} minutes, more than usual. Spending is paused until {until} \
                     to protect your balance; contact an operator to resume sooner.",
                    spike.spent, spike.window_minutes
                ),
                "spent": spike.spent,
                "window_minutes": spike.window_minutes,
                "until": until,
            }),
        )
        .await;
        self.notify_operators(serde_json::json!({
            "kind": "credits_spike",
            "message": format!(
                "User {user_id} spent {} credits within {} minutes; their spending is paused until {until}.",
                spike.spent, spike.window_minutes
            ),
            "user_id": user_id,
            "spent": spike.spent,
            "until": until,
        }))
        .await;
    }
}
