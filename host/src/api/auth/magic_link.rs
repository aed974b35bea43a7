//! Magic links: sign in (or sign up) by proving you read mail sent to an address.
//!
//! The link carries 32 random bytes; only their SHA-256 is stored, for 15 minutes, and a link works once.
//! Opening the link (GET) never consumes it, because mail scanners and link previews fetch links on their
//! own: it only shows a page whose button POSTs the token back, and that POST consumes it atomically.
//! Asking for a link answers 202 whether or not an account exists, so the endpoint tells nobody which
//! addresses have accounts; confirming a link for an address without an account creates the account.

use axum::extract::{Form, FromRequest, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::session::{self, Client, Login, SignedIn};
use crate::auth::Role;
use crate::auth::origin::is_same_origin;
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Query};
use crate::mail::Mail;
use crate::state::AppState;
use crate::users::{self, NewUser, USER_COLUMNS, User};

/// Random bytes in a link's token.
const TOKEN_BYTES: usize = 32;
/// How long a link works, in minutes.
const LINK_MINUTES: i32 = 15;
/// The confirmation endpoint, relative to the public base URL.
const CONFIRM_PATH: &str = "/api/auth/magic-link/confirm";

/// Where to send a sign-in link.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MagicLinkRequest {
    pub email: String,
}

/// The token from a sign-in link. No `Debug`: it is a credential.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The `token` query parameter of the link.
    pub token: String,
}

/// The query of a sign-in link. Other parameters are ignored: mail systems append tracking parameters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfirmQuery {
    /// The token the mail carried.
    pub token: String,
}

/// Mail a sign-in link.
#[utoipa::path(
    post,
    path = "/api/auth/magic-link",
    tag = "auth",
    request_body = MagicLinkRequest,
    responses(
        (status = 202, description = "A link was mailed if the address can receive one (always answered, \
            whether or not an account exists)"),
        (status = 422, description = "Not an email address", body = ErrorBody),
        (status = 429, description = "Too many links asked for this address or from this client", body = ErrorBody),
    )
)]
pub async fn request_link(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<MagicLinkRequest>,
) -> ApiResult<StatusCode> {
    let email = users::normalize_email(&body.email)?;
    state.rate_limits.check(&email, client.addr)?;

    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    // Housekeeping: links a day past their expiry are of no use to anyone, not even for error messages.
    sqlx::query("DELETE FROM magic_link_tokens WHERE expires_at < now() - interval '1 day'")
        .execute(&state.db)
        .await?;
    sqlx::query(
        "INSERT INTO magic_link_tokens (token_hash, email, expires_at) \
         VALUES ($1, $2, now() + make_interval(mins => $3))",
    )
    .bind(token_hash(&token))
    .bind(&email)
    .bind(LINK_MINUTES)
    .execute(&state.db)
    .await?;

    let link = format!("{}{CONFIRM_PATH}?token={token}", state.config.public_base());
    let body = format!(
        "Hello,\n\nSomeone, hopefully you, asked to sign in to Vibe with this address. Open this link to \
         sign in (an account is created if you have none yet):\n\n{link}\n\nThe link works once, within \
         {LINK_MINUTES} minutes. If you did not ask for it, ignore this mail: nothing happens without the link.\n"
    );
    state.mailer.send(Mail { to: email, subject: "Your Vibe sign-in link".into(), body }).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The page a sign-in link opens: a button that confirms the sign-in. Does not use up the link.
#[utoipa::path(
    get,
    path = "/api/auth/magic-link/confirm",
    tag = "auth",
    params(ConfirmQuery),
    responses(
        (status = 200, description = "An HTML page whose form POSTs the token", content_type = "text/html", body = String),
        (status = 400, description = "The link is malformed", content_type = "text/html", body = String),
    )
)]
pub async fn confirm_page(Query(query): Query<ConfirmQuery>) -> Response {
    if !well_formed(&query.token) {
        return error_page(invalid_link());
    }
    let body = format!(
        "<h1>Sign in to Vibe</h1>\
         <p>Press the button to finish signing in. The link works only once.</p>\
         <form method=\"post\" action=\"confirm\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\
         <button type=\"submit\">Sign in</button></form>",
        escape_html(&query.token)
    );
    page(StatusCode::OK, &body)
}

/// Use a sign-in link: consumes the token (once) and signs in, creating the account if there is none.
///
/// A JSON body answers `{user, token}` with the cookie; a form post (the page of the GET) sets the cookie
/// and redirects to `/`. A form post from another site is refused, so nobody can sign a visitor into
/// an account of theirs.
#[utoipa::path(
    post,
    path = "/api/auth/magic-link/confirm",
    tag = "auth",
    request_body(content(
        (ConfirmRequest = "application/json"),
        (ConfirmRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Signed in (JSON request); the `vibe_session` cookie is set", body = SignedIn),
        (status = 303, description = "Signed in (form post); the cookie is set, redirect to `/`"),
        (status = 400, description = "The link is unknown, used or expired (HTML for form posts)", body = ErrorBody),
        (status = 403, description = "Form post from another origin", content_type = "text/html", body = String),
    )
)]
pub async fn confirm(State(state): State<AppState>, client: Client, request: Request) -> ApiResult<Response> {
    if !is_form(request.headers()) {
        let Json(body) = Json::<ConfirmRequest>::from_request(request, &state).await?;
        let (user, login) = consume(&state, &body.token, &client).await?;
        tracing::info!(user = %user.id, "signed in with a magic link");
        return Ok(session::signed_in(StatusCode::OK, user, login));
    }

    if !is_same_origin(request.headers(), &state.config, true) {
        return Ok(error_page(ApiError::Forbidden("cross-origin request refused".into())));
    }
    let result = match Form::<ConfirmRequest>::from_request(request, &state).await {
        Ok(Form(body)) => consume(&state, &body.token, &client).await,
        Err(_) => Err(ApiError::BadRequest("the form must carry just the sign-in token".into())),
    };
    Ok(match result {
        Ok((user, login)) => {
            tracing::info!(user = %user.id, "signed in with a magic link");
            (StatusCode::SEE_OTHER, [(LOCATION, HeaderValue::from_static("/")), (SET_COOKIE, login.cookie)])
                .into_response()
        }
        Err(err) => error_page(err),
    })
}

/// Consumes `token` and opens a session for its address, in one transaction: on any failure nothing is
/// written and the link stays as it was.
async fn consume(state: &AppState, token: &str, client: &Client) -> ApiResult<(User, Login)> {
    if !well_formed(token) {
        return Err(invalid_link());
    }
    let hash = token_hash(token);
    let mut tx = state.db.begin().await?;
    let email: Option<String> = sqlx::query_scalar(
        "UPDATE magic_link_tokens SET used_at = now() \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING email",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(email) = email else {
        drop(tx);
        return Err(why_refused(&state.db, &hash).await?);
    };

    let existing =
        sqlx::query_as::<_, User>(&format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = $1"))
            .bind(&email)
            .fetch_optional(&mut *tx)
            .await?;
    let user = match existing {
        Some(user) => user,
        None => {
            let new = NewUser {
                email,
                password_hash: None,
                name: String::new(),
                role: Role::User,
                initial_credits: state.config.signup_credits,
            };
            let user = users::create_in(&mut tx, new).await?;
            tracing::info!(user = %user.id, "account created from a magic link");
            user
        }
    };
    let login = session::open(&mut tx, state, user.id, client).await?;
    tx.commit().await?;
    Ok((user, login))
}

/// Says why a token was not accepted. Only someone holding the token learns this.
async fn why_refused(db: &PgPool, hash: &[u8]) -> ApiResult<ApiError> {
    let row: Option<(bool, bool)> = sqlx::query_as(
        "SELECT used_at IS NOT NULL, expires_at <= now() FROM magic_link_tokens WHERE token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(db)
    .await?;
    Ok(match row {
        None => invalid_link(),
        Some((false, true)) => {
            ApiError::BadRequest("this sign-in link has expired; ask for a new one".into())
        }
        Some(_) => ApiError::BadRequest("this sign-in link was already used; ask for a new one".into()),
    })
}

fn invalid_link() -> ApiError {
    ApiError::BadRequest("this sign-in link is not valid; ask for a new one".into())
}

/// What is stored of a token: its SHA-256, so a leak of the table signs nobody in.
fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `token` has the shape of the tokens we hand out (URL-safe base64 of 32 bytes).
fn well_formed(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether the body is an HTML form post.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// An HTML page for a person who followed a link, telling what went wrong.
fn error_page(err: ApiError) -> Response {
    let message = match &err {
        ApiError::Internal(_) | ApiError::Unavailable => {
            "Something went wrong on our side. Please try again in a moment.".to_owned()
        }
        other => other.to_string(),
    };
    // The JSON response is built for its status, and so that internal errors are logged with the request id.
    let status = err.into_response().status();
    page(status, &format!("<h1>Sign-in failed</h1><p>{}</p>", escape_html(&message)))
}

/// A small self-contained HTML page: no scripts, not framable, not cached, no referrer (the URL holds a token).
fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>Vibe sign-in</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:30rem;margin:4rem auto;padding:0 1rem}}\
         button{{font-size:1rem;padding:.6rem 1.4rem}}</style></head><body>{body}</body></html>"
    );
    let headers = [
        (
            CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (CACHE_CONTROL, "no-store"),
        (REFERRER_POLICY, "no-referrer"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (status, headers, Html(html)).into_response()
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
