//! Collaborators: the people an idea's owner invites, by email, as collaborators (may change the idea)
//! or viewers (may read it).
//!
//! An invitation is an `idea_collaborators` row keyed by (idea, email). When an account with that email
//! exists the row names it at once; otherwise the row stays pending and `users::create` links it when the
//! person signs up, so an invitation sent before signup just works. Rows are addressed by email in the
//! path (`DELETE /api/ideas/{id}/collaborate/{email}`) because pending invitations have no user id yet.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::{IdeaRole, Need, require_idea};
use super::ideas::parse_choice;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use crate::mail::Mail;
use crate::state::AppState;
use crate::users::normalize_email;

/// A member of an idea, or a pending invitation.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Collaborator {
    /// The address the invitation went to (lowercase).
    pub email: String,
    /// The account, once one with this email exists; null while the invitation is pending.
    pub user_id: Option<Uuid>,
    /// The account's display name, when linked.
    pub name: Option<String>,
    pub role: IdeaRole,
    /// Who sent the invitation.
    pub invited_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub invited_at: OffsetDateTime,
}

/// `POST /api/ideas/{id}/collaborate` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    pub email: String,
    /// `collaborator` or `viewer`.
    #[schema(value_type = InviteRole)]
    pub role: String,
}

/// The roles an invitation may grant (an idea has exactly one owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InviteRole {
    Collaborator,
    Viewer,
}

impl From<InviteRole> for IdeaRole {
    fn from(role: InviteRole) -> Self {
        match role {
            InviteRole::Collaborator => IdeaRole::Collaborator,
            InviteRole::Viewer => IdeaRole::Viewer,
        }
    }
}

/// The answer to an invitation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invited {
    pub collaborator: Collaborator,
    /// Whether the invitation mail was handed to the mailer; when false the invitation still stands.
    pub mail_sent: bool,
}

const COLLABORATOR_COLUMNS: &str = "c.email, c.user_id, u.name, c.role, c.invited_by, c.invited_at";

/// The collaborator routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_collaborators, invite)).routes(routes!(remove_collaborator))
}

/// Lists an idea's members and pending invitations, the owner first.
#[utoipa::path(
    get, path = "/api/ideas/{id}/collaborate", tag = "collaborators",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The idea's id")),
    responses(
        (status = 200, description = "Members and pending invitations", body = Vec<Collaborator>),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a member of this public idea", body = ErrorBody),
        (status = 404, description = "No such idea, or not visible to the caller", body = ErrorBody),
    )
)]
async fn list_collaborators(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Collaborator>>> {
    require_idea(&state.db, id, user.id, Need::Read).await?;
    // A public idea can be read by anyone signed in, but who works on it (and their email addresses)
    // is for its members only.
    let (member,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM idea_collaborators WHERE idea_id = $1 AND user_id = $2)",
    )
    .bind(id)
    .bind(user.id)
    .fetch_one(&state.db)
    .await?;
    if !member {
        return Err(ApiError::Forbidden("only the idea's members see its collaborators".into()));
    }
    let rows = sqlx::query_as::<_, Collaborator>(&format!(
        "SELECT {COLLABORATOR_COLUMNS} FROM idea_collaborators c LEFT JOIN users u ON u.id = c.user_id \
         WHERE c.idea_id = $1 ORDER BY (c.role = 'owner') DESC, c.invited_at, c.email"
    ))
    .bind(id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(rows))
}

/// Invites someone by email (owner only). Inviting an address again changes its role and re-sends the mail.
#[utoipa::path(
    post, path = "/api/ideas/{id}/collaborate", tag = "collaborators",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The idea's id")),
    request_body = Invitation,
    responses(
        (status = 201, description = "Invited", body = Invited),
        (status = 200, description = "Already invited: role updated", body = Invited),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only the owner may invite", body = ErrorBody),
        (status = 404, description = "No such idea, or not visible to the caller", body = ErrorBody),
        (status = 422, description = "Invalid email or role, or the owner's own address", body = ErrorBody),
    )
)]
async fn invite(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<Invitation>,
) -> ApiResult<(StatusCode, Json<Invited>)> {
    require_idea(&state.db, id, user.id, Need::Own).await?;
    let email = normalize_email(&body.email)?;
    let role: InviteRole = parse_choice("role", &body.role, "collaborator, viewer")?;
    let role = IdeaRole::from(role);

    let mut tx = state.db.begin().await?;
    let (idea_name, owner_id): (String, Uuid) =
        sqlx::query_as("SELECT name, user_id FROM ideas WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(ApiError::NotFound)?;
    let invitee: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE lower(email) = $1")
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?;
    let invitee = invitee.map(|(id,)| id);
    let owner_row: Option<(String,)> =
        sqlx::query_as("SELECT email FROM idea_collaborators WHERE idea_id = $1 AND role = 'owner'")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let is_owner = invitee == Some(owner_id)
        || email == user.email.to_ascii_lowercase()
        || owner_row.is_some_and(|(owner_email,)| owner_email.eq_ignore_ascii_case(&email));
    if is_owner {
        return Err(ApiError::validation("email", "the owner cannot be invited to their own idea"));
    }
    // `xmax = 0` tells a fresh insert from an update of an existing invitation.
    let (inserted,): (bool,) = sqlx::query_as(
        "INSERT INTO idea_collaborators (idea_id, email, user_id, role, invited_by) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (idea_id, email) DO UPDATE \
           SET role = EXCLUDED.role, user_id = COALESCE(idea_collaborators.user_id, EXCLUDED.user_id), \
               invited_by = EXCLUDED.invited_by \
           WHERE idea_collaborators.role <> 'owner' \
         RETURNING (xmax = 0)",
    )
    .bind(id)
    .bind(&email)
    .bind(invitee)
    .bind(role)
    .bind(user.id)
    .fetch_one(&mut *tx)
    .await?;
    let collaborator = sqlx::query_as::<_, Collaborator>(&format!(
        "SELECT {COLLABORATOR_COLUMNS} FROM idea_collaborators c LEFT JOIN users u ON u.id = c.user_id \
         WHERE c.idea_id = $1 AND c.email = $2"
    ))
    .bind(id)
    .bind(&email)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;

    let mail_sent = send_invitation(&state, &user, id, &idea_name, &email, role, invitee.is_some()).await;
    let status = if inserted { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Invited { collaborator, mail_sent })))
}

/// Mails the invitation. A failure is logged and reported, not fatal: the invitation is already recorded
/// and the invitee sees the idea as soon as they sign in.
async fn send_invitation(
    state: &AppState,
    inviter: &AuthUser,
    idea: Uuid,
    idea_name: &str,
    email: &str,
    role: IdeaRole,
    has_account: bool,
) -> bool {
    let base = state.config.public_base();
    let role = match role {
        IdeaRole::Collaborator => "collaborate on",
        _ => "view",
    };
    let next_step = if has_account {
        format!("Sign in at {base}/ to open it.")
    } else {
        format!("Sign up at {base}/ with this address and the idea will be waiting for you.")
    };
    let mail = Mail {
        to: email.to_owned(),
        subject: format!("{} invited you to \"{idea_name}\" on Vibe", inviter.email),
        body: format!(
            "{} invited you to {role} the idea \"{idea_name}\" on Vibe.\n\n{next_step}\n",
            inviter.email
        ),
    };
    match state.mailer.send(mail).await {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(error = ?err, %idea, "sending an invitation failed");
            false
        }
    }
}

/// Removes a collaborator or a pending invitation (owner only). The owner's own row cannot be removed.
#[utoipa::path(
    delete, path = "/api/ideas/{id}/collaborate/{email}", tag = "collaborators",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("id" = Uuid, Path, description = "The idea's id"),
        ("email" = String, Path, description = "The invited address (case-insensitive)"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only the owner may remove people", body = ErrorBody),
        (status = 404, description = "No such idea or collaborator", body = ErrorBody),
        (status = 422, description = "The owner cannot be removed", body = ErrorBody),
    )
)]
async fn remove_collaborator(
    State(state): State<AppState>,
    user: AuthUser,
    Path((id, email)): Path<(Uuid, String)>,
) -> ApiResult<StatusCode> {
    require_idea(&state.db, id, user.id, Need::Own).await?;
    let email = normalize_email(&email).map_err(|_| ApiError::NotFound)?;
    let role: Option<(IdeaRole,)> =
        sqlx::query_as("SELECT role FROM idea_collaborators WHERE idea_id = $1 AND lower(email) = $2")
            .bind(id)
            .bind(&email)
            .fetch_optional(&state.db)
            .await?;
    match role {
        None => Err(ApiError::NotFound),
        Some((IdeaRole::Owner,)) => Err(ApiError::validation("email", "the owner cannot be removed")),
        Some(_) => {
            sqlx::query(
                "DELETE FROM idea_collaborators WHERE idea_id = $1 AND lower(email) = $2 AND role <> 'owner'",
            )
            .bind(id)
            .bind(&email)
            .execute(&state.db)
            .await?;
            Ok(StatusCode::NO_CONTENT)
        }
    }
}
