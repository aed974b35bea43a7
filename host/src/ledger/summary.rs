//! Usage summaries: what a user's credits went to, per agent session, per build and per app, from the
//! usage entries' references. Reservations still held are not usage yet.

use serde::Serialize;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

/// Lines per kind of reference, the most expensive first.
pub const MAX_LINES: i64 = 50;

/// Credits spent on one thing.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UsageLine {
    /// The session's, build's or app's id.
    pub id: String,
    /// Credits spent on it.
    pub credits: i64,
    /// How many usage entries.
    pub entries: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub last_at: OffsetDateTime,
}

/// Credits spent, per agent session, per build and per app.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UsageSummary {
    pub sessions: Vec<UsageLine>,
    pub builds: Vec<UsageLine>,
    pub apps: Vec<UsageLine>,
    /// Usage without a reference.
    pub other: i64,
}

/// The usage summary of `user_id`.
pub async fn usage(db: &PgPool, user_id: Uuid) -> sqlx::Result<UsageSummary> {
    let lines = |kind: &'static str| async move {
        sqlx::query_as::<_, UsageLine>(
            "SELECT reference_id AS id, (-SUM(amount))::bigint AS credits, COUNT(*) AS entries, \
             max(created_at) AS last_at FROM credit_ledger \
             WHERE user_id = $1 AND kind = 'usage' AND reference_type = $2 AND reference_id IS NOT NULL \
             GROUP BY reference_id ORDER BY credits DESC, last_at DESC LIMIT $3",
        )
        .bind(user_id)
        .bind(kind)
        .bind(MAX_LINES)
        .fetch_all(db)
        .await
    };
    let other: i64 = sqlx::query_scalar(
        "SELECT COALESCE(-SUM(amount), 0)::bigint FROM credit_ledger \
         WHERE user_id = $1 AND kind = 'usage' AND reference_type IS NULL",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?;
    Ok(UsageSummary {
        sessions: lines("agent_session").await?,
        builds: lines("build").await?,
        apps: lines("app").await?,
        other,
    })
}
