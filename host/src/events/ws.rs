//! `GET /api/ws`: the handshake of the live-events WebSocket (see the module above for what clients get).
//!
//! Everything is checked before upgrading, so a refused handshake is an ordinary HTTP error in our error
//! shape: the `Origin` first (a page of another site must not ride on a browser's cookie, 403), then the
//! login (401). The connection itself runs in [`super::stream`].

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::stream;
use crate::auth::SESSION_COOKIE;
use crate::auth::extract::{cookie_value, user_for_token};
use crate::auth::origin::is_same_origin;
use crate::error::{ApiError, ApiResult, ErrorBody, Query};
use crate::state::AppState;

/// Largest message accepted from a client. Clients have nothing to say on this socket; the bound keeps
/// one from making the server buffer megabytes.
const MAX_CLIENT_MESSAGE: usize = 4 * 1024;

/// The WebSocket's route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(connect))
}

/// Query parameters of the handshake.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConnectParams {
    /// The largest event id already received: first replay the missed events after it.
    since: Option<i64>,
    /// The login token, for clients that cannot send headers (browsers' WebSocket API).
    token: Option<String>,
}

/// Opens the live-events stream: JSON text frames, one `StoredEvent` each.
#[utoipa::path(
    get, path = "/api/ws", tag = "events",
    security(("bearer" = []), ("cookie" = [])),
    params(ConnectParams),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol; every frame the server sends \
            is one event", body = super::StoredEvent),
        (status = 400, description = "Not a WebSocket handshake, or a malformed parameter", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The handshake comes from a page of another site", body = ErrorBody),
    )
)]
async fn connect(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ConnectParams>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    // Browsers send Origin on every handshake; non-browser clients may send none.
    if !is_same_origin(&headers, &state.config, true) {
        return Err(ApiError::Forbidden("cross-origin WebSocket refused".into()));
    }
    let token = bearer(&headers).or(params.token).or_else(|| cookie_value(&headers, SESSION_COOKIE));
    let token = token.filter(|t| !t.is_empty()).ok_or(ApiError::Unauthorized)?;
    let user = user_for_token(&state, &token).await?.ok_or(ApiError::Unauthorized)?;
    let upgrade = upgrade.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    // Subscribed before the client hears back: an event it causes once connected is never missed.
    let start = stream::Start::take(&state, params.since).await?;
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| stream::run(socket, state, user, token, start)))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_owned())
}
