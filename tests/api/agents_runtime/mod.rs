//! The agent runtime on real plugins built from source (tests/components: agent-echo on the
//! agent SDK, agent-hostile, agent-extism through the Extism adapter) and real PostgreSQL: turns,
//! capabilities and their grants, limits and hostile plugins, refusals at load.

mod capabilities;
mod guide;
mod hostile;
mod load;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::agents::runtime::{
    AgentLimits, AgentRuntime, AgentRuntimeConfig, AgentServices, CallContext, Capability, Grants,
    LlmCallInfo, LlmError, LlmGateway, LlmRequest, LlmResponse, LlmUsage, Message, NoLlmProvider, PluginKind,
    PreparedAgent, Role, TurnInput,
};

use crate::support::TestServer;

/// A server with a signed-up user, an idea, a session on it, and an agent runtime.
pub struct Harness {
    pub server: TestServer,
    pub runtime: AgentRuntime,
    pub dir: tempfile::TempDir,
    pub idea_id: Uuid,
    pub session_id: Uuid,
    pub services: Arc<AgentServices>,
}

impl Harness {
    pub async fn start(db: PgPool) -> Harness {
        Self::with_llm(db, Arc::new(NoLlmProvider)).await
    }

    pub async fn with_llm(db: PgPool, llm: Arc<dyn LlmGateway>) -> Harness {
        let server = TestServer::start(db).await;
        let user = server.signup("author@example.com").await;
        let idea: Value =
            user.post("/api/ideas", json!({"name": "Agents at work"})).await.json().await.unwrap();
        let idea_id: Uuid = idea["id"].as_str().unwrap().parse().unwrap();
        let session = user
            .request(Method::POST, "/api/sessions")
            .json(&json!({"idea_id": idea_id, "agent_type": "ideation"}))
            .send()
            .await
            .unwrap();
        assert_eq!(session.status(), 201);
        let session: Value = session.json().await.unwrap();
        let session_id: Uuid = session["id"].as_str().unwrap().parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let runtime = AgentRuntime::new(AgentRuntimeConfig::new(dir.path())).unwrap();
        let services =
            Arc::new(AgentServices { db: server.db.clone(), events: server.state.events.clone(), llm });
        Harness { server, runtime, dir, idea_id, session_id, services }
    }

    /// Prepares the plugin at `path`.
    pub async fn prepare(&self, path: &str, kind: PluginKind) -> PreparedAgent {
        let bytes = std::fs::read(path).unwrap();
        self.runtime.prepare(&digest(&bytes), &bytes, kind).await.unwrap()
    }

    /// A call context for plugin `name` with `grants` and `limits`.
    pub fn context(&self, name: &str, grants: Grants, limits: AgentLimits) -> CallContext {
        CallContext {
            limits,
            grants,
            idea_id: self.idea_id,
            session_id: self.session_id,
            plugin_name: name.to_owned(),
            services: self.services.clone(),
        }
    }

    /// Counts the events of `kind` about the idea.
    pub async fn events(&self, kind: &str) -> Vec<Value> {
        sqlx::query_scalar("SELECT data FROM events WHERE kind = $1 AND idea_id = $2 ORDER BY id")
            .bind(kind)
            .bind(self.idea_id)
            .fetch_all(&self.server.db)
            .await
            .unwrap()
    }
}

/// The sha256 of `bytes`, hex.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Every capability but outbound HTTP.
pub fn all_but_http() -> Grants {
    let capabilities = Capability::ALL.into_iter().filter(|capability| *capability != Capability::Http);
    Grants::new(capabilities, Vec::<String>::new()).unwrap()
}

/// A turn for `agent_type` answering `content`, after a short transcript.
pub fn turn(content: &str) -> TurnInput {
    TurnInput {
        agent_type: "ideation".to_owned(),
        transcript: vec![
            Message { role: Role::User, agent_type: None, content: "I want a bakery site".to_owned() },
            Message {
                role: Role::Agent,
                agent_type: Some("ideation".to_owned()),
                content: "Tell me more".to_owned(),
            },
        ],
        artifacts: Vec::new(),
        message: Message { role: Role::User, agent_type: None, content: content.to_owned() },
    }
}

/// Small limits, so hostile plugins are stopped quickly.
pub fn tight_limits() -> AgentLimits {
    AgentLimits {
        fuel: 300_000_000,
        memory_bytes: 32 << 20,
        deadline_ms: 20_000,
        max_output_bytes: 1 << 20,
        max_log_bytes: 16 << 10,
    }
}

/// An LLM gateway standing in for a provider: answers `answer to: <last message>` and records
/// who asked.
#[derive(Default)]
pub struct ScriptedLlm {
    pub calls: Mutex<Vec<LlmCallInfo>>,
}

#[async_trait]
impl LlmGateway for ScriptedLlm {
    async fn complete(&self, call: &LlmCallInfo, request: LlmRequest) -> Result<LlmResponse, LlmError> {
        self.calls.lock().unwrap().push(call.clone());
        let last = request.messages.last().map(|message| message.content.clone()).unwrap_or_default();
        Ok(LlmResponse {
            content: format!("answer to: {last}"),
            model: "scripted".to_owned(),
            usage: LlmUsage { input_tokens: 3, output_tokens: 4 },
            stop_reason: "end".to_owned(),
        })
    }
}
