//! The build's repair session: one `build` agent session per build of an idea, opened by the
//! first repair and reused by the next attempts of the same build (the agent sees what it
//! changed before in the transcript), closed by [`finish`]. Its transcript is the account the
//! owner reads: each attempt's errors as a system message, the agent's replies, what was refused.
//!
//! A session is the build's when its transcript holds a repair message (a system message whose
//! `data` has `repair`); the conversation's own sessions of the idea never do, so a person talking
//! to the build agent and the pipeline repairing the build do not share a transcript.

use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::AGENT_TYPE;
use crate::api::sessions::{MESSAGE_COLUMNS, Message};
use crate::events::{Event, EventKind, publish_in};

/// The idea's open repair session, if any.
pub async fn open(db: &PgPool, idea_id: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT s.id FROM agent_sessions s WHERE s.idea_id = $1 AND s.agent_type = $2 AND s.status = 'active' \
         AND EXISTS (SELECT 1 FROM agent_messages m WHERE m.session_id = s.id AND m.role = 'system' \
                     AND m.data ? 'repair') \
         ORDER BY s.started_at DESC LIMIT 1",
    )
    .bind(idea_id)
    .bind(AGENT_TYPE)
    .fetch_optional(db)
    .await
}

/// A repair attempt begun: the session (opened for `user_id`, who pays for the model, unless the
/// build already has one), its attempt number, and the message holding `errors`.
pub struct Attempt {
    pub session_id: Uuid,
    pub number: i64,
    pub message: Message,
}

/// Opens or reuses the build's session and posts `errors` in it as attempt N, in one transaction
/// (a session is never left without its marking message).
pub async fn begin(
    db: &PgPool,
    guided: bool,
    idea_id: Uuid,
    user_id: Uuid,
    errors: &str,
) -> sqlx::Result<Attempt> {
    let mut tx = db.begin().await?;
    let session_id = match open(db, idea_id).await? {
        Some(session) => session,
        None => {
            let session = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO agent_sessions (id, user_id, idea_id, agent_type) VALUES ($1, $2, $3, $4)",
            )
            .bind(session)
            .bind(user_id)
            .bind(idea_id)
            .bind(AGENT_TYPE)
            .execute(&mut *tx)
            .await?;
            session
        }
    };
    let earlier: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM agent_messages WHERE session_id = $1 AND role = 'system' AND data ? 'repair'",
    )
    .bind(session_id)
    .fetch_one(&mut *tx)
    .await?;
    let number = earlier + 1;
    let data = json!({ "repair": { "attempt": number } });
    let posted = Posted { guided, idea_id, session_id };
    let message = posted.message(&mut tx, "system", None, errors, Some(data)).await?;
    tx.commit().await?;
    Ok(Attempt { session_id, number, message })
}

/// Closes the idea's open repair session and returns the credits it consumed (0 without one).
pub async fn close(db: &PgPool, idea_id: Uuid) -> sqlx::Result<i64> {
    let Some(session) = open(db, idea_id).await? else { return Ok(0) };
    let credits: Option<i64> = sqlx::query_scalar(
        "UPDATE agent_sessions SET status = 'completed', ended_at = now() WHERE id = $1 AND status = 'active' \
         RETURNING credits_consumed",
    )
    .bind(session)
    .fetch_optional(db)
    .await?;
    Ok(credits.unwrap_or(0))
}

/// The credits the idea's open repair session consumed so far (0 without one).
pub async fn credits(db: &PgPool, idea_id: Uuid) -> sqlx::Result<i64> {
    let Some(session) = open(db, idea_id).await? else { return Ok(0) };
    let credits: Option<i64> =
        sqlx::query_scalar("SELECT credits_consumed FROM agent_sessions WHERE id = $1")
            .bind(session)
            .fetch_optional(db)
            .await?;
    Ok(credits.unwrap_or(0))
}

/// Where messages are posted: a session of an idea, and whether the platform is in guided mode
/// (every conversation event says so).
pub struct Posted {
    pub guided: bool,
    pub idea_id: Uuid,
    pub session_id: Uuid,
}

impl Posted {
    /// Appends a message to the session's transcript and announces it (`agent:message`), on `conn`
    /// (inside the caller's transaction).
    pub async fn message(
        &self,
        conn: &mut PgConnection,
        role: &str,
        agent: Option<(&str, &str)>,
        content: &str,
        data: Option<serde_json::Value>,
    ) -> sqlx::Result<Message> {
        let message: Message = sqlx::query_as(&format!(
            "INSERT INTO agent_messages (session_id, role, agent_type, agent_version, content, data) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(self.session_id)
        .bind(role)
        .bind(agent.map(|(agent_type, _)| agent_type))
        .bind(agent.map(|(_, version)| version))
        .bind(content)
        .bind(data)
        .fetch_one(&mut *conn)
        .await?;
        let phase: String = sqlx::query_scalar("SELECT status FROM ideas WHERE id = $1")
            .bind(self.idea_id)
            .fetch_one(&mut *conn)
            .await?;
        let event = Event {
            kind: EventKind::AgentMessage,
            idea_id: Some(self.idea_id),
            app_id: None,
            user_id: None,
            data: json!({ "session_id": self.session_id, "message": message, "phase": phase, "guided": self.guided }),
        };
        publish_in(conn, &event).await?;
        Ok(message)
    }
}
