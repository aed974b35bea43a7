//! Buying credits: `POST /api/credits` starts a Stripe Checkout and answers the URL to send the buyer
//! to; `POST /api/credits/webhook` is where Stripe reports the payment (no login: the `Stripe-Signature`
//! header is the proof), and the only place purchased credits are granted.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Json};
use crate::ledger::stripe::Checkout;
use crate::ledger::webhook::{self, StripeEvent, WebhookOutcome};
use crate::state::AppState;

/// `POST /api/credits` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    /// How many credits to buy.
    pub credits: i64,
}

/// `POST /api/credits/webhook` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookAnswer {
    pub received: bool,
    pub outcome: WebhookOutcome,
}

/// The purchase routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(start_purchase)).routes(routes!(stripe_webhook))
}

/// Starts a purchase of credits: answers the Stripe Checkout page to send the buyer to. The credits arrive
/// when Stripe reports the payment.
#[utoipa::path(
    post, path = "/api/credits", tag = "credits",
    security(("bearer" = []), ("cookie" = [])),
    request_body = PurchaseRequest,
    responses(
        (status = 201, description = "The Checkout Session to pay on", body = Checkout),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "`credits` is out of range", body = ErrorBody),
        (status = 503, description = "Purchases are not configured (`purchases_not_configured`) or Stripe is unavailable", body = ErrorBody),
    )
)]
async fn start_purchase(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<PurchaseRequest>,
) -> ApiResult<(StatusCode, Json<Checkout>)> {
    let base = state.config.public_base();
    let checkout = state.ledger.start_purchase(user.id, &user.email, request.credits, &base).await?;
    Ok((StatusCode::CREATED, Json(checkout)))
}

/// Stripe's webhook: verifies the signature over the raw body and grants a paid purchase once.
#[utoipa::path(
    post, path = "/api/credits/webhook", tag = "credits",
    request_body(content = String, description = "A Stripe event, exactly as Stripe sent it", content_type = "application/json"),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"{t}.{body}\">`")),
    responses(
        (status = 200, description = "Handled (granted, duplicate or ignored)", body = WebhookAnswer),
        (status = 400, description = "Bad, stale or missing signature, or not a Stripe event", body = ErrorBody),
        (status = 503, description = "Purchases are not configured", body = ErrorBody),
    )
)]
async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<WebhookAnswer>> {
    let Some(header) = headers.get("stripe-signature").and_then(|value| value.to_str().ok()) else {
        return Err(ApiError::BadRequest("the Stripe-Signature header is missing".to_owned()));
    };
    let Some(secret) = &state.ledger.config().stripe_webhook_secret else {
        return Err(ApiError::PurchasesNotConfigured(
            "purchases are not configured on this server (no VIBE_STRIPE_WEBHOOK_SECRET)".to_owned(),
        ));
    };
    if let Err(error) = webhook::verify(secret.expose(), header, &body, webhook::now()) {
        tracing::warn!(error = %error, "credits: a Stripe webhook delivery was refused");
        return Err(ApiError::BadRequest(format!("signature refused: {error}")));
    }
    let event: StripeEvent = serde_json::from_slice(&body)
        .map_err(|error| ApiError::BadRequest(format!("not a Stripe event: {error}")))?;
    let outcome = state.ledger.handle_stripe_event(&event).await?;
    Ok(Json(WebhookAnswer { received: true, outcome }))
}
