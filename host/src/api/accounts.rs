//! Operators and accounts: find an account by its email, and grant it credits.
//!
//! A grant goes through the ledger like every other change of a balance, so it shows in the user's
//! ledger with its reason, and it carries the caller's idempotency key: a retried request (a double click,
//! a timeout and a retry) grants once. The account's balance, usage and ledger are at
//! `GET /api/credits/users/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Path, Query};
use crate::ledger::{EntryKind, NewEntry, Posted};
use crate::state::AppState;
use crate::users::{self, User, normalize_email};

/// The most credits one grant gives.
pub const MAX_GRANT: i64 = 1_000_000;
/// The longest reason and idempotency key accepted.
const MAX_TEXT: usize = 200;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(find_account)).routes(routes!(grant))
}

/// `GET /api/accounts` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FindQuery {
    /// The account's email (any case, surrounding spaces ignored).
    pub email: String,
}

/// `POST /api/accounts/{id}/grants` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// Credits to give, 1 to 1,000,000.
    pub amount: i64,
    /// Why, as the user will read it in their ledger (default "granted by an operator").
    pub reason: Option<String>,
    /// Unique per grant: the same key sent again returns the first grant and changes nothing.
    pub idempotency_key: String,
}

/// Finds the account with this email (operators).
#[utoipa::path(
    get, path = "/api/accounts", tag = "accounts",
    security(("bearer" = []), ("cookie" = [])),
    params(FindQuery),
    responses(
        (status = 200, description = "The account", body = User),
        (status = 400, description = "A query parameter is missing, malformed or unknown", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an operator", body = ErrorBody),
        (status = 404, description = "No account has this email", body = ErrorBody),
        (status = 422, description = "Not an email address", body = ErrorBody),
    )
)]
async fn find_account(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<FindQuery>,
) -> ApiResult<Json<User>> {
    user.require_operator()?;
    let email = normalize_email(&query.email)?;
    let found = users::find_by_email(&state.db, &email).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(found))
}

/// Grants credits to an account (operators), once per idempotency key.
#[utoipa::path(
    post, path = "/api/accounts/{id}/grants", tag = "accounts",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The account")),
    request_body = GrantRequest,
    responses(
        (status = 201, description = "Granted", body = Posted),
        (status = 200, description = "Granted before with this key; nothing changed", body = Posted),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an operator", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The key was used for a different grant", body = ErrorBody),
        (status = 422, description = "The amount, reason or key is out of range", body = ErrorBody),
    )
)]
async fn grant(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(request): Json<GrantRequest>,
) -> ApiResult<(StatusCode, Json<Posted>)> {
    user.require_operator()?;
    if !(1..=MAX_GRANT).contains(&request.amount) {
        return Err(ApiError::validation("amount", format!("must be 1 to {MAX_GRANT}")));
    }
    let reason = request.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_TEXT) {
        return Err(ApiError::validation("reason", format!("at most {MAX_TEXT} characters")));
    }
    let key = request.idempotency_key.trim();
    if key.is_empty() || key.chars().count() > MAX_TEXT {
        return Err(ApiError::validation("idempotency_key", format!("1 to {MAX_TEXT} characters")));
    }
    let entry = NewEntry {
        user_id: id,
        kind: EntryKind::Grant,
        amount: request.amount,
        reason: reason.unwrap_or_else(|| "granted by an operator".to_owned()),
        reference: None,
        // Namespaced, so an operator's key can never collide with the platform's own keys.
        idempotency_key: format!("operator_grant:{key}"),
    };
    let posted = state.ledger.post(&entry).await?;
    let status = if posted.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(posted)))
}
