//! App hosting charges and the grace period: an app's requests are charged to its owner (batch by batch,
//! by [`super::app_meter`]); when the owner runs out, the app keeps serving for
//! `VIBE_CREDITS_APP_GRACE_MINUTES` (the owner is told when it ends), then it is paused (503, a page
//! saying its credits ran out) until the owner adds credits and resumes it. A successful charge ends the
//! grace period; an app resumed while its owner still cannot pay is paused again at its next charge.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::metering::app_requests_cost;
use super::{
    EntryKind, Ledger, LedgerError, LedgerResult, NewEntry, Posted, Reference, ReferenceKind, rfc3339,
};
use crate::apps::AppsService;

/// What charging an app's requests did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AppCharge {
    /// Nothing to charge (free, or fewer requests than one credit buys).
    Free,
    /// Charged to the owner.
    Charged { posted: Posted },
    /// The owner could not pay: the app serves until `deadline`.
    Grace {
        #[serde(with = "time::serde::rfc3339")]
        deadline: OffsetDateTime,
    },
    /// The grace period is over: the app is paused.
    Paused,
}

impl Ledger {
    /// Charges `requests` requests of `app_id` to its owner (`VIBE_PRICE_APP_1K_REQUESTS`). `batch_key`
    /// names the batch (for example the analytics window), so a retried charge is applied once. When the
    /// owner cannot pay, starts or checks the grace period, and pauses the app (through `apps`) once it is
    /// over.
    pub async fn charge_app_requests(
        &self,
        apps: Option<&AppsService>,
        app_id: Uuid,
        requests: u64,
        batch_key: &str,
    ) -> LedgerResult<AppCharge> {
        let cost = app_requests_cost(requests, self.config.price_app_1k_requests);
        self.charge_app(apps, app_id, cost, requests, batch_key).await
    }

    /// Charges `credits` for `requests` requests of `app_id` to its owner, with the grace path of
    /// [`Ledger::charge_app_requests`] (for callers that priced the requests themselves).
    pub async fn charge_app(
        &self,
        apps: Option<&AppsService>,
        app_id: Uuid,
        credits: i64,
        requests: u64,
        batch_key: &str,
    ) -> LedgerResult<AppCharge> {
        if credits <= 0 {
            return Ok(AppCharge::Free);
        }
        let owner: Uuid = sqlx::query_scalar("SELECT user_id FROM apps WHERE id = $1")
            .bind(app_id)
            .fetch_optional(&self.db)
            .await?
            .ok_or(LedgerError::invalid("app_id", "no such app"))?;
        let entry = NewEntry {
            user_id: owner,
            kind: EntryKind::Usage,
            amount: -credits,
            reason: format!("{requests} app requests"),
            reference: Some(Reference::new(ReferenceKind::App, app_id)),
            idempotency_key: format!("app_requests:{app_id}:{batch_key}"),
        };
        match self.post(&entry).await {
            Ok(posted) => {
                sqlx::query("DELETE FROM app_credit_grace WHERE app_id = $1")
                    .bind(app_id)
                    .execute(&self.db)
                    .await?;
                Ok(AppCharge::Charged { posted })
            }
            Err(LedgerError::Insufficient { .. } | LedgerError::SpendingPaused { .. }) => {
                self.grace(apps, app_id, owner).await
            }
            Err(error) => Err(error),
        }
    }

    /// Starts the grace period of `app_id` if none runs, and pauses the app if it is over.
    async fn grace(&self, apps: Option<&AppsService>, app_id: Uuid, owner: Uuid) -> LedgerResult<AppCharge> {
        let started: Option<OffsetDateTime> = sqlx::query_scalar(
            "INSERT INTO app_credit_grace (app_id, deadline) VALUES ($1, now() + make_interval(mins => $2)) \
             ON CONFLICT (app_id) DO NOTHING RETURNING deadline",
        )
        .bind(app_id)
        .bind(i32::try_from(self.config.app_grace_minutes).unwrap_or(i32::MAX))
        .fetch_optional(&self.db)
        .await?;
        if let Some(deadline) = started {
            self.notify_user(
                owner,
                serde_json::json!({
                    "kind": "app_credits_grace",
                    "app_id": app_id,
                    "message": format!(
                        "You are out of credits. Your app keeps serving until {}, then it pauses; buy credits to \
                         keep it running.",
                        rfc3339(deadline)
                    ),
                    "deadline": rfc3339(deadline),
                }),
            )
            .await;
            return Ok(AppCharge::Grace { deadline });
        }
        let (deadline, paused_at): (OffsetDateTime, Option<OffsetDateTime>) =
            sqlx::query_as("SELECT deadline, paused_at FROM app_credit_grace WHERE app_id = $1")
                .bind(app_id)
                .fetch_one(&self.db)
                .await?;
        if paused_at.is_none() && deadline > OffsetDateTime::now_utc() {
            return Ok(AppCharge::Grace { deadline });
        }
        if let Some(apps) = apps {
            self.pause_app(apps, app_id, owner).await?;
        }
        Ok(AppCharge::Paused)
    }

    /// Pauses an app whose grace period ended and tells its owner (once). An app already marked paused
    /// that still serves requests was resumed by its owner without credits: it is paused again.
    async fn pause_app(&self, apps: &AppsService, app_id: Uuid, owner: Uuid) -> LedgerResult<()> {
        let marked = sqlx::query(
            "UPDATE app_credit_grace SET paused_at = now() WHERE app_id = $1 AND paused_at IS NULL",
        )
        .bind(app_id)
        .execute(&self.db)
        .await?
        .rows_affected();
        if let Err(error) = apps.set_paused(app_id, true).await {
            // An app with no live version has nothing to pause.
            tracing::info!(%app_id, error = %error, "credits: app past its grace period not paused");
        }
        if marked == 0 {
            return Ok(());
        }
        self.notify_user(
            owner,
            serde_json::json!({
                "kind": "app_paused_no_credits",
                "app_id": app_id,
                "message": "Your app was paused because you ran out of credits. Buy credits, then resume it.",
            }),
        )
        .await;
        Ok(())
    }
}

/// Pauses every app whose grace period ended (the periodic sweep calls this).
pub async fn pause_overdue(ledger: &Ledger, apps: &AppsService) -> LedgerResult<usize> {
    let overdue: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT g.app_id, a.user_id FROM app_credit_grace g JOIN apps a ON a.id = g.app_id \
         WHERE g.deadline <= now() AND g.paused_at IS NULL",
    )
    .fetch_all(ledger.db())
    .await?;
    for (app_id, owner) in &overdue {
        ledger.pause_app(apps, *app_id, *owner).await?;
    }
    Ok(overdue.len())
}
