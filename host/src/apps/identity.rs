//! Who is asking, as the platform vouches for it to an app: the `x-vibe-user-*` headers.
//!
//! An app cannot check the platform's session itself (it never sees the session cookie, which
//! [`super::routing`] takes out of every app request), so the host does: when the request carries a
//! live platform session (on `/apps/{slug}/…`) or the app host's own session cookie (on
//! `{slug}.{apps domain}`, see `entry.rs`), the app receives the user's id, email and name, and whether the user owns
//! the app (`x-vibe-user-relation: owner`) or is anyone else signed in (`signed_in`). Headers of those
//! names sent by the client are removed first, always, so a visitor cannot claim to be anyone. Nothing
//! else of the session reaches the app; the app's own `Authorization` header is its own business.

use http::{HeaderMap, HeaderValue};
use uuid::Uuid;

use crate::auth::SESSION_COOKIE;
use crate::auth::extract::{cookie_value, user_for_token};
use crate::state::AppState;

/// The user's id (a UUID).
pub const USER_ID: &str = "x-vibe-user-id";
/// The user's email.
pub const USER_EMAIL: &str = "x-vibe-user-email";
/// The user's display name, when they gave one.
pub const USER_NAME: &str = "x-vibe-user-name";
/// `owner` or `signed_in`.
pub const USER_RELATION: &str = "x-vibe-user-relation";

/// A signed-in visitor of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub owner: bool,
}

/// Removes every identity header a client sent (call before anything else reads the request).
pub fn strip(headers: &mut HeaderMap) {
    for name in [USER_ID, USER_EMAIL, USER_NAME, USER_RELATION] {
        headers.remove(name);
    }
}

/// The visitor the request's session names, if any, for app `app_id`: the platform's session
/// cookie on the platform's address, the app host's cookie on the app's own host.
pub async fn visitor(state: &AppState, headers: &HeaderMap, app_id: Uuid, own_host: bool) -> Option<Visitor> {
    let user_id = if own_host {
        super::entry::session_user(state, headers, app_id).await?
    } else {
        let token = cookie_value(headers, SESSION_COOKIE)?;
        match user_for_token(state, &token).await {
            Ok(user) => user?.id,
            Err(error) => {
                tracing::warn!(error = %error, "checking a session for an app request failed; serving it anonymously");
                return None;
            }
        }
    };
    let row: Option<(String, String, bool)> = sqlx::query_as(
        "SELECT u.email, u.name, EXISTS (SELECT 1 FROM apps a WHERE a.id = $2 AND a.user_id = u.id) \
         FROM users u WHERE u.id = $1",
    )
    .bind(user_id)
    .bind(app_id)
    .fetch_optional(&state.db)
    .await
    .ok()
    .flatten();
    let (email, name, owner) = row?;
    Some(Visitor { id: user_id, email, name, owner })
}

/// Adds `visitor`'s identity headers.
pub fn attach(headers: &mut HeaderMap, visitor: &Visitor) {
    let relation = if visitor.owner { "owner" } else { "signed_in" };
    headers
        .insert(USER_ID, HeaderValue::from_str(&visitor.id.to_string()).expect("a UUID is a header value"));
    headers.insert(USER_RELATION, HeaderValue::from_static(relation));
    if let Ok(email) = HeaderValue::from_str(&visitor.email) {
        headers.insert(USER_EMAIL, email);
    }
    if !visitor.name.is_empty()
        && let Ok(name) = HeaderValue::from_str(&visitor.name)
    {
        headers.insert(USER_NAME, name);
    }
}
