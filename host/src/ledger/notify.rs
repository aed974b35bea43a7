//! Notifications the ledger sends: `notification` events to one user or to every operator. A failure to
//! publish is logged, never turned into a failed charge: the ledger row is what counts.

use serde_json::Value;
use uuid::Uuid;

use super::Ledger;
use crate::events::Event;

/// How often one user is told they ran out, at most.
const INSUFFICIENT_EVERY_SECS: u32 = 60;

impl Ledger {
    /// Publishes a `notification` for `user_id`.
    pub(super) async fn notify_user(&self, user_id: Uuid, data: Value) {
        if let Err(error) = self.events.publish(Event::notification(user_id, data)).await {
            tracing::warn!(error = %error, %user_id, "credits: publishing a notification failed");
        }
    }

    /// Publishes a `notification` for every operator.
    pub(super) async fn notify_operators(&self, data: Value) {
        let operators: Vec<Uuid> = match sqlx::query_scalar("SELECT id FROM users WHERE role = 'operator'")
            .fetch_all(&self.db)
            .await
        {
            Ok(operators) => operators,
            Err(error) => {
                tracing::warn!(error = %error, "credits: listing operators to notify failed");
                return;
            }
        };
        for operator in operators {
            self.notify_user(operator, data.clone()).await;
        }
    }

    /// Tells the user a spend was refused for lack of credits (at most once a minute, so a busy loop
    /// of refused calls does not flood them).
    pub(super) async fn announce_insufficient(&self, user_id: Uuid, available: i64, needed: i64) {
        let every = std::time::Duration::from_secs(INSUFFICIENT_EVERY_SECS as u64);
        {
            let Ok(mut told) = self.told_insufficient.lock() else {
                return;
            };
            let now = std::time::Instant::now();
            if told.get(&user_id).is_some_and(|at| now.duration_since(*at) < every) {
                return;
            }
            told.retain(|_, at| now.duration_since(*at) < every);
            told.insert(user_id, now);
        }
        let recent: Result<bool, sqlx::Error> = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM events WHERE kind = 'notification' AND user_id = $1 \
             AND data->>'kind' = 'insufficient_credits' AND at > now() - make_interval(secs => $2))",
        )
        .bind(user_id)
        .bind(f64::from(INSUFFICIENT_EVERY_SECS))
        .fetch_one(&self.db)
        .await;
        if matches!(recent, Ok(true)) {
            return;
        }
        self.notify_user(
            user_id,
            serde_json::json!({
                "kind": "insufficient_credits",
                "message": format!(
                    "You are out of credits: {available} available, {needed} needed. Buy credits to continue."
                ),
                "available": available,
                "needed": needed,
            }),
        )
        .await;
    }
}
