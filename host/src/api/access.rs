//! Who may do what with an idea, and with the sessions and apps that hang off it.
//!
//! One rule everywhere: a caller with no right to see a thing gets 404, exactly as if it did not exist
//! (no existence leak); a caller who may see it but not do the thing gets 403.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ApiError;

/// A person's role on an idea.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum IdeaRole {
    Owner,
    Collaborator,
    Viewer,
}

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// See it.
    Read,
    /// Change it (owners and collaborators).
    Write,
    /// Delete it, invite to it (owners).
    Own,
}

impl IdeaRole {
    /// Checks `self` against `need`.
    pub fn allows(self, need: Need) -> Result<IdeaRole, ApiError> {
        let ok = match need {
            Need::Read => true,
            Need::Write => self != IdeaRole::Viewer,
            Need::Own => self == IdeaRole::Owner,
        };
        if ok {
            Ok(self)
        } else if need == Need::Own {
            Err(ApiError::Forbidden("only the owner may do this".into()))
        } else {
            Err(ApiError::Forbidden("viewers cannot make changes".into()))
        }
    }
}

/// The role of `user` on `idea`, if any. Anyone signed in may view a public idea.
pub async fn idea_role(db: &PgPool, idea: Uuid, user: Uuid) -> Result<Option<IdeaRole>, ApiError> {
    let row: Option<(Option<IdeaRole>, String)> = sqlx::query_as(
        "SELECT c.role, i.visibility FROM ideas i \
         LEFT JOIN idea_collaborators c ON c.idea_id = i.id AND c.user_id = $2 \
         WHERE i.id = $1",
    )
    .bind(idea)
    .bind(user)
    .fetch_optional(db)
    .await?;
    Ok(match row {
        Some((Some(role), _)) => Some(role),
        Some((None, visibility)) if visibility == "public" => Some(IdeaRole::Viewer),
        _ => None,
    })
}

/// Checks that `user` may do `need` with `idea`; 404 when they may not even see it.
pub async fn require_idea(db: &PgPool, idea: Uuid, user: Uuid, need: Need) -> Result<IdeaRole, ApiError> {
    idea_role(db, idea, user).await?.ok_or(ApiError::NotFound)?.allows(need)
}

/// The role of `user` on `app`: the app's owner is its owner; otherwise the role on the app's idea.
pub async fn app_role(db: &PgPool, app: Uuid, user: Uuid) -> Result<Option<IdeaRole>, ApiError> {
    let row: Option<(Uuid, Option<Uuid>)> = sqlx::query_as("SELECT user_id, idea_id FROM apps WHERE id = $1")
        .bind(app)
        .fetch_optional(db)
        .await?;
    match row {
        None => Ok(None),
        Some((owner, _)) if owner == user => Ok(Some(IdeaRole::Owner)),
        Some((_, Some(idea))) => idea_role(db, idea, user).await,
        Some((_, None)) => Ok(None),
    }
}

/// Checks that `user` may do `need` with `app`; 404 when they may not even see it.
pub async fn require_app(db: &PgPool, app: Uuid, user: Uuid, need: Need) -> Result<IdeaRole, ApiError> {
    app_role(db, app, user).await?.ok_or(ApiError::NotFound)?.allows(need)
}

/// Checks that `user` may do `need` with agent session `session` (through its idea); returns the idea id.
pub async fn require_session(db: &PgPool, session: Uuid, user: Uuid, need: Need) -> Result<Uuid, ApiError> {
    let idea: Option<(Uuid,)> = sqlx::query_as("SELECT idea_id FROM agent_sessions WHERE id = $1")
        .bind(session)
        .fetch_optional(db)
        .await?;
    let (idea,) = idea.ok_or(ApiError::NotFound)?;
    require_idea(db, idea, user, need).await?;
    Ok(idea)
}
