//! Credits: the caller's balance and the ledger that explains it, and the operators' view of anyone's.
//!
//! `GET /api/credits` answers the balance, what is available after reservations, usage per agent
//! session, build and app, and one page of ledger entries, newest first. Pages are keyed on the ledger's
//! increasing id (`?before=<id>`), not offsets, so entries written while someone pages neither repeat nor
//! go missing. Purchases are in `credit_purchases.rs`.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Query};
use crate::ledger::spikes;
use crate::ledger::summary::{self, UsageSummary};
use crate::state::AppState;
use uuid::Uuid;

/// Entries per page when the client does not say.
pub const DEFAULT_PAGE: i64 = 20;
/// Most entries per page.
pub const MAX_PAGE: i64 = 100;

/// One change of the balance.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LedgerEntry {
    pub id: i64,
    /// `grant`, `purchase`, `usage`, `refund` or `adjustment`.
    pub kind: String,
    /// Positive for credits received, negative for credits spent.
    pub amount: i64,
    /// The balance right after this entry.
    pub balance_after: i64,
    pub reason: String,
    /// What the entry is about (for example `agent_session`), with `reference_id`.
    pub reference_type: Option<String>,
    pub reference_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The balance and one page of the ledger.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Credits {
    pub balance: i64,
    /// Credits held by work in progress (LLM calls, builds).
    pub held: i64,
    /// What may be spent now: the balance minus what is held.
    pub available: i64,
    /// Set while spending is paused after a consumption spike: until when, and why.
    pub spending_paused: Option<SpendingPause>,
    /// Credits spent per agent session, build and app.
    pub usage: UsageSummary,
    /// Newest first.
    pub ledger: Vec<LedgerEntry>,
    /// Pass as `before` to get the next (older) page; null on the last page.
    pub next_before: Option<i64>,
}

/// A pause of spending.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpendingPause {
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

/// `GET /api/credits` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CreditsQuery {
    /// Only entries with an id below this (the previous page's `next_before`).
    pub before: Option<i64>,
    /// Entries per page, 1 to 100 (default 20).
    pub limit: Option<i64>,
}

/// The credits routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_credits))
        .routes(routes!(get_user_credits))
        .routes(routes!(resume_spending))
}

/// Shows the caller's balance and ledger, newest first, one page at a time.
#[utoipa::path(
    get, path = "/api/credits", tag = "credits",
    security(("bearer" = []), ("cookie" = [])),
    params(CreditsQuery),
    responses(
        (status = 200, description = "Balance and one page of the ledger", body = Credits),
        (status = 400, description = "A query parameter is malformed or unknown", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "`limit` is out of range", body = ErrorBody),
    )
)]
async fn get_credits(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<CreditsQuery>,
) -> ApiResult<Json<Credits>> {
    credits_of(&state, user.id, &query).await.map(Json)
}

/// Shows any user's balance, usage and ledger (operators).
#[utoipa::path(
    get, path = "/api/credits/users/{id}", tag = "credits",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The user"), CreditsQuery),
    responses(
        (status = 200, description = "Balance and one page of the user's ledger", body = Credits),
        (status = 400, description = "A query parameter is malformed or unknown", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an operator", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "`limit` is out of range", body = ErrorBody),
    )
)]
async fn get_user_credits(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Query(query): Query<CreditsQuery>,
) -> ApiResult<Json<Credits>> {
    user.require_operator()?;
    credits_of(&state, id, &query).await.map(Json)
}

/// Lifts a user's spending pause after a consumption spike (operators).
#[utoipa::path(
    post, path = "/api/credits/users/{id}/resume", tag = "credits",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 204, description = "Spending may resume"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an operator", body = ErrorBody),
        (status = 404, description = "No pause in force for this user", body = ErrorBody),
    )
)]
async fn resume_spending(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::http::StatusCode> {
    user.require_operator()?;
    if state.ledger.lift_pause(id).await? {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// The balance, holds, usage and one page of the ledger of `user_id`.
async fn credits_of(state: &AppState, user_id: Uuid, query: &CreditsQuery) -> ApiResult<Credits> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation("limit", format!("must be 1 to {MAX_PAGE}")));
    }
    let mut tx = state.db.begin().await?;
    // One snapshot for every read, so the balance agrees with the newest entry shown and with the holds.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
    let balance: i64 = sqlx::query_scalar("SELECT credits_balance FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ApiError::NotFound)?;
    let held: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(amount), 0)::bigint FROM credit_reservations \
         WHERE user_id = $1 AND status = 'held' AND expires_at > now()",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    // One row more than asked tells whether another page follows.
    let mut ledger = sqlx::query_as::<_, LedgerEntry>(
        "SELECT id, kind, amount, balance_after, reason, reference_type, reference_id, created_at \
         FROM credit_ledger WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(query.before)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let more = ledger.len() as i64 > limit;
    ledger.truncate(limit as usize);
    let next_before = if more { ledger.last().map(|entry| entry.id) } else { None };
    let usage = summary::usage(&state.db, user_id).await?;
    let spending_paused = spikes::current_pause(&state.db, user_id)
        .await?
        .map(|(reason, until)| SpendingPause { reason, until });
    Ok(Credits {
        balance,
        held,
        available: (balance - held).max(0),
        spending_paused,
        usage,
        ledger,
        next_before,
    })
}
