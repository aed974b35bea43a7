//! The `agent_turn` job: one agent turn answering one message of a session.
//!
//! The job picks the agent type for the idea's phase (and moves the session to it when the phase
//! changed: the new type's routing then picks a fresh version), announces `agent:thinking`, builds the
//! turn's input (see `context.rs`) and runs the turn through the agent host, whose routing picks the
//! version. A successful turn's effects commit in ONE transaction with the job marked done: the replies
//! in the transcript, the output artifacts through the pipeline's write path, the hand-off (phase and a
//! system message), the preferences and facts learned, and their events. A failed turn commits instead
//! a system message saying what went wrong (and its event) with the job marked failed; only failures that
//! may pass (the database, a busy agent host) are retried, never an agent's own failure.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{context, memory, phase};
use crate::agents::dispatch::{DispatchError, run_turn};
use crate::agents::runtime::capabilities::pipeline;
use crate::agents::runtime::{AgentError, CapError, TurnOutput};
use crate::api::sessions::{MESSAGE_COLUMNS, Message};
use crate::events::{Event, EventKind, publish_in};
use crate::jobs::{ClaimedJob, JobError, JobHandler, NewJob, queue};
use crate::state::AppState;

/// The job kind.
pub const KIND: &str = "agent_turn";
/// Attempts before a turn that keeps failing with something that may pass is given up.
const MAX_ATTEMPTS: i32 = 5;
/// The longest tool input or output carried by an `agent:tool_call` event.
const TOOL_FIELD_BYTES: usize = 16 << 10;

/// What an `agent_turn` job names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TurnPayload {
    pub session_id: Uuid,
    /// The person's message to answer.
    pub message_id: i64,
}

/// The job answering message `message_id` of `session_id` (enqueued once per message).
pub fn job(session_id: Uuid, message_id: i64) -> NewJob {
    NewJob {
        kind: KIND,
        payload: json!(TurnPayload { session_id, message_id }),
        idempotency_key: format!("{KIND}:{session_id}:{message_id}"),
        // A session's messages are answered one at a time, in order.
        serial_key: Some(format!("session:{session_id}")),
        max_attempts: MAX_ATTEMPTS,
    }
}

/// Runs `agent_turn` jobs.
pub struct AgentTurns {
    state: AppState,
}

impl AgentTurns {
    pub fn new(state: AppState) -> Self {
        AgentTurns { state }
    }

    fn guided(&self) -> bool {
        !self.state.llm.configured()
    }
}

/// The session, its idea and the message a turn answers.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Scene {
    session_id: Uuid,
    idea_id: Uuid,
    session_status: String,
    session_agent_type: String,
    phase: String,
    message_id: i64,
    content: String,
    /// Who wrote the message (the session's starter if the account is gone).
    person: Uuid,
}

async fn scene(db: &PgPool, payload: &TurnPayload) -> sqlx::Result<Option<Scene>> {
    sqlx::query_as(
        "SELECT s.id AS session_id, s.idea_id, s.status AS session_status, s.agent_type AS session_agent_type, \
                i.status AS phase, m.id AS message_id, m.content, COALESCE(m.author_id, s.user_id) AS person \
         FROM agent_messages m JOIN agent_sessions s ON s.id = m.session_id JOIN ideas i ON i.id = s.idea_id \
         WHERE m.id = $1 AND m.session_id = $2",
    )
    .bind(payload.message_id)
    .bind(payload.session_id)
    .fetch_optional(db)
    .await
}

/// A turn's failure as the session is told it.
struct Failure {
    code: &'static str,
    message: String,
}

#[async_trait]
impl JobHandler for AgentTurns {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, job: &ClaimedJob) -> Result<(), JobError> {
        let db = &self.state.db;
        let Ok(payload) = serde_json::from_value::<TurnPayload>(job.payload.clone()) else {
            return queue::fail(db, job, "the job's payload is not a turn").await;
        };
        let Some(scene) = scene(db, &payload).await? else {
            // The message or its session was deleted: nothing left to answer.
            return finish_empty(db, job).await;
        };
        if scene.session_status != "active" {
            return finish_empty(db, job).await;
        }
        let Some(agent_type) = phase::agent_type_for(&scene.phase) else {
            let failure = Failure {
                code: "agent_not_routed",
                message: format!("no agent serves ideas in the {} phase", scene.phase),
            };
            return self.record_failure(job, &scene, &failure).await;
        };
        if scene.session_agent_type != agent_type {
            // The idea moved on: the session now talks to the new phase's agent, whose routing picks
            // a version afresh (the old type's version means nothing to the new type).
            sqlx::query(
                "UPDATE agent_sessions SET agent_type = $2, agent_version = NULL WHERE id = $1 AND agent_type = $3",
            )
            .bind(scene.session_id)
            .bind(agent_type)
            .bind(&scene.session_agent_type)
            .execute(db)
            .await?;
        }
        let thinking = self.event(
            EventKind::AgentThinking,
            &scene,
            &scene.phase,
            json!({ "session_id": scene.session_id, "agent_type": agent_type, "message_id": scene.message_id }),
        );
        // A hint for the people watching; the transcript is the record, so a lost one is only logged.
        if let Err(error) = self.state.events.publish(thinking).await {
            tracing::warn!(error = %format!("{error:#}"), "publishing agent:thinking failed");
        }
        let input = context::turn_input(
            db,
            agent_type,
            scene.session_id,
            (scene.message_id, scene.content.clone()),
            scene.idea_id,
            &scene.phase,
            scene.person,
        )
        .await?;
        match run_turn(&self.state, agent_type, scene.session_id, input).await {
            Ok(output) => self.commit_turn(job, &scene, agent_type, output).await,
            Err(error) if retryable(&error) => Err(JobError::Retry(error.to_string())),
            Err(error) => {
                tracing::info!(code = error.code(), error = %error, "an agent turn failed");
                let failure = Failure { code: error.code(), message: error.public_message() };
                self.record_failure(job, &scene, &failure).await
            }
        }
    }

    async fn give_up(&self, job: &ClaimedJob, reason: &str) -> Result<(), JobError> {
        let db = &self.state.db;
        let scene = match serde_json::from_value::<TurnPayload>(job.payload.clone()) {
            Ok(payload) => scene(db, &payload).await?,
            Err(_) => None,
        };
        let Some(scene) = scene else {
            return queue::fail(db, job, reason).await;
        };
        let failure = Failure {
            code: "agent_unavailable",
            message: "this agent is not available right now; try again shortly".to_owned(),
        };
        self.record_failure(job, &scene, &failure).await
    }
}

/// Failures that may pass by themselves: the database, an agent host at capacity, a plugin that could
/// not be loaded on this process. An agent's own failure (a refusal, a limit hit, a trap) is final.
fn retryable(error: &DispatchError) -> bool {
    matches!(
        error,
        DispatchError::Database(_) | DispatchError::Load { .. } | DispatchError::Agent(AgentError::Saturated)
    )
}

async fn finish_empty(db: &PgPool, job: &ClaimedJob) -> Result<(), JobError> {
    let mut tx = db.begin().await?;
    queue::finish_in(&mut tx, job).await?;
    tx.commit().await?;
    Ok(())
}

impl AgentTurns {
    /// An event about `scene`'s idea, with the phase and guided mode every conversation event carries.
    fn event(&self, kind: EventKind, scene: &Scene, phase: &str, mut data: serde_json::Value) -> Event {
        if let Some(fields) = data.as_object_mut() {
            fields.insert("phase".into(), json!(phase));
            fields.insert("guided".into(), json!(self.guided()));
        }
        Event { kind, idea_id: Some(scene.idea_id), app_id: None, user_id: None, data }
    }

    /// Commits a successful turn's effects with the job marked done, or its failure when the pipeline
    /// refuses one of its artifacts.
    async fn commit_turn(
        &self,
        job: &ClaimedJob,
        scene: &Scene,
        agent_type: &str,
        output: TurnOutput,
    ) -> Result<(), JobError> {
        let mut tx = self.state.db.begin().await?;
        // First: locks the job, so nobody takes it over while its effects commit.
        queue::finish_in(&mut tx, job).await?;
        match self.apply(&mut tx, scene, agent_type, &output).await {
            Ok(()) => {
                tx.commit().await?;
                Ok(())
            }
            Err(Applied::Refused(failure)) => {
                tx.rollback().await?;
                tracing::info!(code = failure.code, reason = %failure.message, "a turn's output was refused");
                self.record_failure(job, scene, &failure).await
            }
            Err(Applied::Retry(reason)) => Err(JobError::Retry(reason)),
        }
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        scene: &Scene,
        agent_type: &str,
        output: &TurnOutput,
    ) -> Result<(), Applied> {
        let version: Option<String> =
            sqlx::query_scalar("SELECT agent_version FROM agent_sessions WHERE id = $1")
                .bind(scene.session_id)
                .fetch_one(&mut *tx)
                .await?;
        let written_by = version.as_deref().unwrap_or(agent_type);
        for artifact in &output.artifacts {
            if artifact.name.starts_with(context::RESERVED_PREFIX) {
                return Err(Applied::Refused(Failure {
                    code: "agent_artifact_refused",
                    message: format!(
                        "the agent's artifact `{}` was refused: names starting with `{}` are reserved",
                        artifact.name,
                        context::RESERVED_PREFIX
                    ),
                }));
            }
            let written = pipeline::write_in(
                tx,
                scene.idea_id,
                artifact,
                None,
                Some(written_by),
                Some(scene.session_id),
            )
            .await;
            match written {
                Ok(_) => {}
                Err(CapError::Unavailable(reason)) => return Err(Applied::Retry(reason)),
                Err(refusal) => {
                    return Err(Applied::Refused(Failure {
                        code: "agent_artifact_refused",
                        message: format!("the agent's artifact `{}` was refused: {refusal}", artifact.name),
                    }));
                }
            }
        }
        for call in &output.tool_calls {
            let data = json!({
                "session_id": scene.session_id,
                "agent_type": agent_type,
                "agent_version": version,
                "name": truncate(&call.name, 256),
                "input": truncate(&call.input, TOOL_FIELD_BYTES),
                "output": truncate(&call.output, TOOL_FIELD_BYTES),
            });
            publish_in(tx, &self.event(EventKind::AgentToolCall, scene, &scene.phase, data)).await?;
        }
        for reply in &output.replies {
            let message = insert_message(
                tx,
                scene.session_id,
                "agent",
                (Some(agent_type), version.as_deref()),
                reply,
                None,
            )
            .await?;
            let data = json!({ "session_id": scene.session_id, "message": message });
            publish_in(tx, &self.event(EventKind::AgentMessage, scene, &scene.phase, data)).await?;
        }
        if let Some(hand_off) = &output.hand_off {
            let next = phase::phase_after_hand_off(&hand_off.to_stage)
                .filter(|next| phase::moves_forward(&scene.phase, next));
            if let Some(next) = next {
                sqlx::query("UPDATE ideas SET status = $2, updated_at = now() WHERE id = $1 AND status = $3")
                    .bind(scene.idea_id)
                    .bind(next)
                    .bind(&scene.phase)
                    .execute(&mut *tx)
                    .await?;
            }
            let phase_now = next.unwrap_or(&scene.phase);
            let content = format!("Handed off to the {} agent: {}", hand_off.to_stage, hand_off.note);
            let data = json!({ "hand_off": { "to_stage": hand_off.to_stage, "note": hand_off.note,
                                             "from": agent_type, "phase": phase_now } });
            let message = insert_message(
                tx,
                scene.session_id,
                "system",
                (Some(agent_type), version.as_deref()),
                &content,
                Some(data),
            )
            .await?;
            let data =
                json!({ "session_id": scene.session_id, "message": message, "hand_off": hand_off.to_stage });
            publish_in(tx, &self.event(EventKind::AgentMessage, scene, phase_now, data)).await?;
            if next.is_some() {
                // The next stage's agent takes the hand-off at once (the note is its message), so the
                // person sees the conversation move on without having to prompt it.
                crate::jobs::enqueue_in(tx, &job(scene.session_id, message.id)).await?;
            }
        }
        let source = format!("message:{}", scene.message_id);
        let stated = memory::stated_in(&scene.content);
        memory::remember(tx, scene.person, scene.idea_id, &source, &stated).await?;
        if let Some(artifact) = output.artifacts.iter().rev().find(|a| a.name == memory::PREFERENCES_ARTIFACT)
        {
            let source = format!("artifact:{}", memory::PREFERENCES_ARTIFACT);
            let written = memory::from_artifact(&artifact.content);
            memory::remember(tx, scene.person, scene.idea_id, &source, &written).await?;
        }
        context::refresh_facts(tx, scene.idea_id).await?;
        Ok(())
    }

    /// Commits `failure` on the session (a system message and its event) with the job marked failed.
    async fn record_failure(
        &self,
        job: &ClaimedJob,
        scene: &Scene,
        failure: &Failure,
    ) -> Result<(), JobError> {
        let mut tx = self.state.db.begin().await?;
        queue::fail_in(&mut tx, job, &format!("{}: {}", failure.code, failure.message)).await?;
        let error = json!({ "code": failure.code, "message": failure.message });
        let content = sentence(&failure.message);
        let message = insert_message(
            &mut tx,
            scene.session_id,
            "system",
            (None, None),
            &content,
            Some(json!({ "error": error })),
        )
        .await?;
        let data = json!({ "session_id": scene.session_id, "message": message, "error": error });
        publish_in(&mut tx, &self.event(EventKind::AgentMessage, scene, &scene.phase, data)).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Why a turn's effects were not applied.
enum Applied {
    /// The pipeline (or the platform) refused part of the output: the turn fails, nothing is written.
    Refused(Failure),
    /// The database failed: the turn is retried.
    Retry(String),
}

impl From<sqlx::Error> for Applied {
    fn from(error: sqlx::Error) -> Self {
        Applied::Retry(format!("database: {error}"))
    }
}

/// Appends a message to a session's transcript.
async fn insert_message(
    conn: &mut PgConnection,
    session_id: Uuid,
    role: &str,
    (agent_type, agent_version): (Option<&str>, Option<&str>),
    content: &str,
    data: Option<serde_json::Value>,
) -> sqlx::Result<Message> {
    sqlx::query_as(&format!(
        "INSERT INTO agent_messages (session_id, role, agent_type, agent_version, content, data) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {MESSAGE_COLUMNS}"
    ))
    .bind(session_id)
    .bind(role)
    .bind(agent_type)
    .bind(agent_version)
    .bind(content)
    .bind(data)
    .fetch_one(conn)
    .await
}

/// `text` as a sentence: its first letter upper case.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn truncate(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}
