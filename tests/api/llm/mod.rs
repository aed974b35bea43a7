//! The LLM gateway against a local server speaking each provider's real wire format
//! (`fake.rs`), on real PostgreSQL: both providers, JSON and streams, tool calls, fallback and
//! retries, broken answers, billing, credit refusals, rate limits, limits, secrecy of keys, and
//! an agent plugin reaching the model through the dispatcher.

mod agent;
mod billing;
mod book_club;
mod failures;
/// Also used by the build repair tests, whose agent reaches the same local provider.
pub(crate) mod fake;
mod providers;

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::agents::runtime::{
    LlmCallInfo, LlmMessage, LlmRequest, LlmRole, LlmStream, LlmTool, LlmToolMessage, LlmToolRequest,
};
use vibe_host::credits::{self, Entry, EntryKind};
use vibe_host::llm::Gateway;
use vibe_host::llm::config::{LlmConfig, ProviderKind};

use fake::FakeProvider;

/// The API keys the tests configure (never to be seen anywhere but the request header).
pub const ANTHROPIC_KEY: &str = "sk-ant-test-0123456789-SECRET";
pub const OPENAI_KEY: &str = "sk-openai-test-9876543210-SECRET";

/// Which wire format a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Anthropic,
    OpenAi,
}

/// A gateway configuration: `providers` in order, each at its fake server; 2 s timeout, one
/// retry, prices 1 and 3 credits per 1k tokens, 100 calls a minute.
pub fn config(providers: &[(Format, &FakeProvider)]) -> LlmConfig {
    let mut config = LlmConfig {
        llm_timeout_secs: 2,
        llm_max_retries: 1,
        llm_rate_per_minute: 100,
        ..LlmConfig::default()
    };
    for (format, server) in providers {
        match format {
            Format::Anthropic => {
                config.anthropic_api_key = Some(ANTHROPIC_KEY.parse().unwrap());
                config.anthropic_base_url = server.anthropic_base();
                config.anthropic_model = "claude-test".to_owned();
                config.llm_providers.push(ProviderKind::Anthropic);
            }
            Format::OpenAi => {
                config.openai_api_key = Some(OPENAI_KEY.parse().unwrap());
                config.openai_base_url = Some(server.openai_base());
                config.openai_model = "gpt-test".to_owned();
                config.llm_providers.push(ProviderKind::Openai);
            }
        }
    }
    config
}

/// The gateway `config` describes.
pub fn gateway(config: &LlmConfig, db: &PgPool) -> Gateway {
    Gateway::from_config(config, db.clone()).unwrap().expect("a provider is configured")
}

/// A user with `credits` (granted through the ledger), an idea and a session on it.
pub struct Account {
    pub user_id: Uuid,
    pub call: LlmCallInfo,
}

pub async fn account(db: &PgPool, credits: i64) -> Account {
    let user_id = Uuid::new_v4();
    let idea_id = Uuid::new_v4();
    let session_id = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, email) VALUES ($1, $2)")
        .bind(user_id)
        .bind(format!("{user_id}@example.com"))
        .execute(db)
        .await
        .unwrap();
    if credits > 0 {
        let mut conn = db.acquire().await.unwrap();
        let grant = Entry {
            user_id,
            kind: EntryKind::Grant,
            amount: credits,
            reason: "test credits",
            reference: None,
            idempotency_key: "test-grant",
        };
        credits::apply(&mut conn, &grant).await.unwrap();
    }
    sqlx::query("INSERT INTO ideas (id, user_id, name) VALUES ($1, $2, 'an idea')")
        .bind(idea_id)
        .bind(user_id)
        .execute(db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO agent_sessions (id, user_id, idea_id, agent_type) VALUES ($1, $2, $3, 'ideation')",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(idea_id)
    .execute(db)
    .await
    .unwrap();
    let call = LlmCallInfo {
        session_id,
        idea_id,
        plugin_name: "tester".to_owned(),
        plugin_version: "1.0.0".to_owned(),
    };
    Account { user_id, call }
}

/// A one-message request.
pub fn ask(text: &str) -> LlmRequest {
    LlmRequest {
        system: Some("be brief".to_owned()),
        messages: vec![LlmMessage { role: LlmRole::User, content: text.to_owned() }],
        max_tokens: Some(1000),
        temperature: None,
        model: None,
    }
}

/// A request offering the `weather` tool.
pub fn ask_with_weather(text: &str) -> LlmToolRequest {
    LlmToolRequest {
        system: None,
        messages: vec![LlmToolMessage::User { content: text.to_owned() }],
        tools: vec![LlmTool {
            name: "weather".to_owned(),
            description: "The weather in a city".to_owned(),
            input_schema:
                json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]})
                    .to_string(),
        }],
        max_tokens: Some(1000),
        temperature: Some(0.2),
        model: None,
    }
}

/// Reads a stream to its end: the pieces of text, or the first error.
pub async fn read_all(
    stream: &mut Box<dyn LlmStream>,
) -> Result<Vec<String>, vibe_host::agents::runtime::LlmError> {
    let mut pieces = Vec::new();
    while let Some(piece) = stream.next().await? {
        pieces.push(piece);
    }
    Ok(pieces)
}

/// The user's balance.
pub async fn balance(db: &PgPool, user_id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT credits_balance FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
        .unwrap()
}

/// `(outcome, credits)` of the session's `llm_calls`, oldest first.
pub async fn calls(db: &PgPool, session_id: Uuid) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT outcome, credits FROM llm_calls WHERE session_id = $1 ORDER BY started_at, id")
        .bind(session_id)
        .fetch_all(db)
        .await
        .unwrap()
}
