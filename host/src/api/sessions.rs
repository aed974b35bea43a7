//! Agent sessions: a conversation between an idea's members and one agent, and its transcript.
//!
//! `POST /api/sessions` starts one, `POST /api/sessions/{id}/message` appends a person's message,
//! announces it on the event bus (`agent:message`) and enqueues the agent's turn (an `agent_turn` job,
//! see `conversation`), all in one transaction, and returns at once: the answer arrives as events and
//! in the transcript. `GET /api/sessions/{id}` shows the session with its transcript, the idea's phase
//! and whether guided mode is on. Access goes through the session's idea: members with write access
//! talk, viewers read, strangers get 404.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::{Need, require_idea, require_session};
use super::ideas::{parse_choice, reject_nul};
use crate::auth::AuthUser;
use crate::conversation::turn;
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use crate::events::{Event, EventKind, publish_in};
use crate::jobs::enqueue_in;
use crate::state::AppState;

/// Largest message a person may send, in bytes of UTF-8.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// The agents a session can talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum AgentType {
    Ideation,
    Spec,
    Build,
    Test,
    Network,
    Support,
    Sia,
}

/// A session without its transcript.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Session {
    pub id: Uuid,
    pub idea_id: Uuid,
    /// Who started it.
    pub user_id: Uuid,
    pub agent_type: String,
    /// The agent version serving it, once an agent has answered.
    pub agent_version: Option<String>,
    /// `active`, `completed` or `failed`.
    pub status: String,
    pub credits_consumed: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
}

const SESSION_COLUMNS: &str =
    "id, idea_id, user_id, agent_type, agent_version, status, credits_consumed, started_at, ended_at";

/// One message of a transcript.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Message {
    /// Increasing within a session: the transcript's order.
    pub id: i64,
    pub session_id: Uuid,
    /// `user`, `agent`, `system` or `tool`.
    pub role: String,
    /// The person who wrote it (user messages).
    pub author_id: Option<Uuid>,
    /// The agent that wrote it (agent messages).
    pub agent_type: Option<String>,
    pub agent_version: Option<String>,
    pub content: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub(crate) const MESSAGE_COLUMNS: &str =
    "id, session_id, role, author_id, agent_type, agent_version, content, created_at";

/// A session with its whole transcript, oldest message first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionWithTranscript {
    #[serde(flatten)]
    pub session: Session,
    /// The idea's phase: `ideation`, `specification`, `building` or `live` (it decides which agent
    /// answers the next message).
    pub phase: String,
    /// Whether agents run in guided mode (no LLM provider configured: a structured interview).
    pub guided: bool,
    /// Messages the agent has not answered yet (turns queued or running).
    pub pending_turns: i64,
    pub messages: Vec<Message>,
}

/// `POST /api/sessions` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    pub idea_id: Uuid,
    #[schema(value_type = AgentType)]
    pub agent_type: String,
}

/// `POST /api/sessions/{id}/message` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// Not blank, at most 32 KiB.
    pub content: String,
}

/// The session routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_session))
        .routes(routes!(get_session))
        .routes(routes!(send_message))
        .routes(routes!(list_sessions))
}

/// The idea's sessions, newest first (everyone who may see the idea), so that a member returning on
/// another device finds the conversation again.
#[utoipa::path(
    get, path = "/api/ideas/{id}/sessions", tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The idea's id")),
    responses(
        (status = 200, description = "The idea's sessions, newest first (at most 100)", body = Vec<Session>),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such idea, or not visible to the caller", body = ErrorBody),
    )
)]
async fn list_sessions(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Session>>> {
    require_idea(&state.db, id, user.id, Need::Read).await?;
    let sessions = sqlx::query_as::<_, Session>(&format!(
        "SELECT {SESSION_COLUMNS} FROM agent_sessions WHERE idea_id = $1 ORDER BY started_at DESC, id DESC LIMIT 100"
    ))
    .bind(id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(sessions))
}

/// Starts a session with an agent on an idea (owners and collaborators).
#[utoipa::path(
    post, path = "/api/sessions", tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    request_body = NewSession,
    responses(
        (status = 201, description = "Started", body = Session),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Viewers cannot start sessions", body = ErrorBody),
        (status = 404, description = "No such idea, or not visible to the caller", body = ErrorBody),
        (status = 422, description = "Unknown agent type", body = ErrorBody),
    )
)]
async fn start_session(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<NewSession>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    require_idea(&state.db, body.idea_id, user.id, Need::Write).await?;
    let agent_type: AgentType =
        parse_choice("agent_type", &body.agent_type, "ideation, spec, build, test, network, support, sia")?;
    let session = sqlx::query_as::<_, Session>(&format!(
        "INSERT INTO agent_sessions (id, user_id, idea_id, agent_type) VALUES ($1, $2, $3, $4) \
         RETURNING {SESSION_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(user.id)
    .bind(body.idea_id)
    .bind(agent_type)
    .fetch_one(&state.db)
    .await
    .map_err(|err| match err {
        // The idea was deleted between the access check and the insert.
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => ApiError::NotFound,
        other => other.into(),
    })?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Shows a session with its transcript.
#[utoipa::path(
    get, path = "/api/sessions/{id}", tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The session's id")),
    responses(
        (status = 200, description = "The session and its messages, oldest first", body = SessionWithTranscript),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such session, or not visible to the caller", body = ErrorBody),
    )
)]
async fn get_session(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SessionWithTranscript>> {
    require_session(&state.db, id, user.id, Need::Read).await?;
    let mut tx = state.db.begin().await?;
    // One snapshot for both reads, so the transcript matches the session's state.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
    let session =
        sqlx::query_as::<_, Session>(&format!("SELECT {SESSION_COLUMNS} FROM agent_sessions WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let messages = sqlx::query_as::<_, Message>(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM agent_messages WHERE session_id = $1 ORDER BY id"
    ))
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let phase: String = sqlx::query_scalar("SELECT status FROM ideas WHERE id = $1")
        .bind(session.idea_id)
        .fetch_one(&mut *tx)
        .await?;
    let pending_turns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE kind = $1 AND status IN ('queued', 'running') \
         AND payload->>'session_id' = $2",
    )
    .bind(turn::KIND)
    .bind(id.to_string())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let guided = !state.llm.configured();
    Ok(Json(SessionWithTranscript { session, phase, guided, pending_turns, messages }))
}

/// Appends a person's message to a session (owners and collaborators) and announces it to the agents.
#[utoipa::path(
    post, path = "/api/sessions/{id}/message", tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The session's id")),
    request_body = NewMessage,
    responses(
        (status = 201, description = "The stored message; the agent's turn is queued and its answer \
            arrives as `agent:message` events and in the transcript", body = Message),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Viewers cannot send messages", body = ErrorBody),
        (status = 404, description = "No such session, or not visible to the caller", body = ErrorBody),
        (status = 409, description = "The session has ended", body = ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = ErrorBody),
        (status = 422, description = "Empty or longer than 32 KiB", body = ErrorBody),
    )
)]
async fn send_message(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<NewMessage>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let idea = require_session(&state.db, id, user.id, Need::Write).await?;
    if body.content.trim().is_empty() {
        return Err(ApiError::validation("content", "must not be empty"));
    }
    if body.content.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::validation("content", format!("at most {MAX_MESSAGE_BYTES} bytes")));
    }
    reject_nul("content", &body.content)?;
    let mut tx = state.db.begin().await?;
    // Inserting only while the session is active makes the check and the append one step.
    let message = sqlx::query_as::<_, Message>(&format!(
        "INSERT INTO agent_messages (session_id, role, author_id, content) \
         SELECT id, 'user', $2, $3 FROM agent_sessions WHERE id = $1 AND status = 'active' \
         RETURNING {MESSAGE_COLUMNS}"
    ))
    .bind(id)
    .bind(user.id)
    .bind(&body.content)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::Conflict("this session has ended; start a new one".into()))?;
    let phase: String =
        sqlx::query_scalar("SELECT status FROM ideas WHERE id = $1").bind(idea).fetch_one(&mut *tx).await?;
    let event = Event {
        kind: EventKind::AgentMessage,
        idea_id: Some(idea),
        app_id: None,
        user_id: None,
        data: serde_json::json!({
            "session_id": id, "message": message, "phase": phase, "guided": !state.llm.configured(),
        }),
    };
    // The message, its announcement and the agent's turn commit together: the turn's own events
    // always follow the message's, and a message is never left without a turn to answer it.
    publish_in(&mut tx, &event).await?;
    enqueue_in(&mut tx, &turn::job(id, message.id)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(message)))
}
