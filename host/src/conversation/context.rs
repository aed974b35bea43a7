//! The context manager: what an agent sees of a conversation in one turn.
//!
//! - the transcript window: the session's most recent messages before the one to answer, at most
//!   [`WINDOW_MESSAGES`] and [`WINDOW_BYTES`] of text, oldest first;
//! - the idea's pipeline artifacts, latest version of each;
//! - two synthetic artifacts, made for the turn and never written to `pipeline_artifacts`:
//!   - [`PROFILE_ARTIFACT`] (`context.profile`, JSON): the person the agent answers:
//!     `{"name": "…", "profile": {…}, "preferences": {"language": "French", …}}`;
//!   - [`FACTS_ARTIFACT`] (`context.facts`, JSON): the idea and its key facts:
//!     `{"idea": {"name", "summary", "phase"}, "facts": [{"key", "value", "source"}, …]}`.
//!
//! Key facts are extracted deterministically from the idea's artifacts (each scalar field of a JSON
//! artifact, the start of a text one) whenever a turn's effects commit, and kept in `idea_facts`, so they
//! survive restarts and reach every process.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::agents::runtime::capabilities::pipeline;
use crate::agents::runtime::{Artifact, ContentType, Message, Role, TurnInput};

/// The most transcript messages a turn sees.
pub const WINDOW_MESSAGES: i64 = 40;
/// The most transcript text a turn sees, in bytes (older messages are left out first).
pub const WINDOW_BYTES: usize = 48 * 1024;
/// Artifacts too large to send whole with every turn or to mine for key facts: an app's code
/// (`code`, 100-300 KB, written by the build service). An agent that needs one reads it through its
/// pipeline capability.
pub const NOT_IN_CONTEXT: &[&str] = &["code"];

/// The synthetic artifact with the person's profile and preferences.
pub const PROFILE_ARTIFACT: &str = "context.profile";
/// The synthetic artifact with the idea and its key facts.
pub const FACTS_ARTIFACT: &str = "context.facts";
/// Names agents may not write: the context pieces are made by the platform.
pub const RESERVED_PREFIX: &str = "context.";

/// The most facts taken from one artifact, and the longest value kept.
const FACTS_PER_ARTIFACT: usize = 30;
const FACT_CHARS: usize = 300;

/// The session's messages before message `before`, newest [`WINDOW_MESSAGES`] within [`WINDOW_BYTES`],
/// oldest first.
pub async fn transcript_window(db: &PgPool, session_id: Uuid, before: i64) -> sqlx::Result<Vec<Message>> {
    let rows: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT role, agent_type, content FROM agent_messages WHERE session_id = $1 AND id < $2 \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(session_id)
    .bind(before)
    .bind(WINDOW_MESSAGES)
    .fetch_all(db)
    .await?;
    let mut bytes = 0;
    let mut window: Vec<Message> = rows
        .into_iter()
        .take_while(|(_, _, content)| {
            bytes += content.len();
            bytes <= WINDOW_BYTES
        })
        .map(|(role, agent_type, content)| Message { role: role_of(&role), agent_type, content })
        .collect();
    window.reverse();
    Ok(window)
}

fn role_of(role: &str) -> Role {
    match role {
        "agent" => Role::Agent,
        "system" => Role::System,
        "tool" => Role::Tool,
        _ => Role::User,
    }
}

/// Everything the turn answering `message` needs: the window, the idea's artifacts and the context
/// pieces for `person` on `idea_id` in `phase`.
pub async fn turn_input(
    db: &PgPool,
    agent_type: &str,
    session_id: Uuid,
    message: (i64, String),
    idea_id: Uuid,
    phase: &str,
    person: Uuid,
) -> sqlx::Result<TurnInput> {
    let (message_id, content) = message;
    let transcript = transcript_window(db, session_id, message_id).await?;
    let names: Vec<String> = pipeline::list(db, idea_id)
        .await?
        .into_iter()
        .map(|info| info.name)
        .filter(|name| !NOT_IN_CONTEXT.contains(&name.as_str()))
        .collect();
    let mut artifacts = pipeline::latest_of(db, idea_id, &names).await?;
    artifacts.push(profile(db, person).await?);
    artifacts.push(facts(db, idea_id, phase).await?);
    Ok(TurnInput {
        agent_type: agent_type.to_owned(),
        transcript,
        artifacts,
        message: Message { role: Role::User, agent_type: None, content },
    })
}

fn synthetic(name: &str, content: serde_json::Value) -> Artifact {
    Artifact {
        name: name.to_owned(),
        content_type: ContentType::Json,
        content: content.to_string(),
        version: 1,
    }
}

/// `context.profile` for `person`.
pub async fn profile(db: &PgPool, person: Uuid) -> sqlx::Result<Artifact> {
    let user: Option<(String, serde_json::Value)> =
        sqlx::query_as("SELECT name, profile FROM users WHERE id = $1")
            .bind(person)
            .fetch_optional(db)
            .await?;
    let (name, profile) = user.unwrap_or_else(|| (String::new(), json!({})));
    let preferences: BTreeMap<String, String> =
        sqlx::query_as::<_, (String, String)>("SELECT key, value FROM user_preferences WHERE user_id = $1")
            .bind(person)
            .fetch_all(db)
            .await?
            .into_iter()
            .collect();
    Ok(synthetic(PROFILE_ARTIFACT, json!({ "name": name, "profile": profile, "preferences": preferences })))
}

/// `context.facts` for `idea_id`.
pub async fn facts(db: &PgPool, idea_id: Uuid, phase: &str) -> sqlx::Result<Artifact> {
    let idea: Option<(String, String)> = sqlx::query_as("SELECT name, summary FROM ideas WHERE id = $1")
        .bind(idea_id)
        .fetch_optional(db)
        .await?;
    let (name, summary) = idea.unwrap_or_default();
    let facts: Vec<serde_json::Value> = sqlx::query_as::<_, (String, String, String)>(
        "SELECT key, value, source FROM idea_facts WHERE idea_id = $1 ORDER BY key",
    )
    .bind(idea_id)
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|(key, value, source)| json!({ "key": key, "value": value, "source": source }))
    .collect();
    Ok(synthetic(
        FACTS_ARTIFACT,
        json!({ "idea": { "name": name, "summary": summary, "phase": phase }, "facts": facts }),
    ))
}

/// A fact read from an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub key: String,
    pub value: String,
}

/// The key facts of one artifact: each scalar (or list of scalars) field of a JSON object, one level of
/// nesting deep, as `<artifact>.<field>`; the start of a text artifact as `<artifact>`.
pub fn facts_of(artifact: &Artifact) -> Vec<Fact> {
    let short = |text: &str| text.trim().chars().take(FACT_CHARS).collect::<String>();
    if artifact.content_type == ContentType::Text {
        let value = short(&artifact.content);
        return if value.is_empty() { Vec::new() } else { vec![Fact { key: artifact.name.clone(), value }] };
    }
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(&artifact.content) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut visit = |key: String, value: &serde_json::Value| {
        let text = match value {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => Some(value.to_string()),
            serde_json::Value::Array(items)
                if items.iter().all(|item| !item.is_object() && !item.is_array()) =>
            {
                Some(
                    items
                        .iter()
                        .map(|item| item.as_str().map_or_else(|| item.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            }
            _ => None,
        };
        if let Some(text) = text.map(|text| short(&text)).filter(|text| !text.is_empty()) {
            found.push(Fact { key, value: text });
        }
    };
    for (field, value) in &fields {
        match value {
            serde_json::Value::Object(inner) => {
                for (inner_field, inner_value) in inner {
                    visit(format!("{}.{field}.{inner_field}", artifact.name), inner_value);
                }
            }
            other => visit(format!("{}.{field}", artifact.name), other),
        }
    }
    found.truncate(FACTS_PER_ARTIFACT);
    found
}

/// Re-reads the key facts of `idea_id` from its latest artifacts, inside the caller's transaction.
pub async fn refresh_facts(conn: &mut PgConnection, idea_id: Uuid) -> sqlx::Result<()> {
    let rows: Vec<(String, String, String, i32)> = sqlx::query_as(
        "SELECT DISTINCT ON (name) name, content_type, content, version FROM pipeline_artifacts \
         WHERE idea_id = $1 AND name <> ALL($2) ORDER BY name, version DESC",
    )
    .bind(idea_id)
    .bind(NOT_IN_CONTEXT)
    .fetch_all(&mut *conn)
    .await?;
    for (name, content_type, content, version) in rows {
        let artifact = Artifact {
            content_type: ContentType::parse(&content_type).unwrap_or(ContentType::Text),
            name,
            content,
            version: u32::try_from(version).unwrap_or(0),
        };
        let source = format!("artifact:{}@{}", artifact.name, artifact.version);
        for fact in facts_of(&artifact) {
            let key: String = fact.key.chars().take(200).collect();
            sqlx::query(
                "INSERT INTO idea_facts (idea_id, key, value, source) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (idea_id, key) DO UPDATE SET value = EXCLUDED.value, source = EXCLUDED.source, \
                     updated_at = now() \
                 WHERE idea_facts.value IS DISTINCT FROM EXCLUDED.value",
            )
            .bind(idea_id)
            .bind(&key)
            .bind(&fact.value)
            .bind(&source)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(name: &str, content_type: ContentType, content: &str) -> Artifact {
        Artifact { name: name.into(), content_type, content: content.into(), version: 1 }
    }

    #[test]
    fn facts_are_the_scalar_fields_of_json_and_the_start_of_text() {
        let summary = artifact(
            "summary",
            ContentType::Json,
            r#"{"problem": "track books", "users": ["members", "host"], "meta": {"round": 2, "deep": {"x": 1}}}"#,
        );
        let mut facts: Vec<(String, String)> =
            facts_of(&summary).into_iter().map(|f| (f.key, f.value)).collect();
        facts.sort();
        assert_eq!(
            facts,
            [
                ("summary.meta.round".to_owned(), "2".to_owned()),
                ("summary.problem".to_owned(), "track books".to_owned()),
                ("summary.users".to_owned(), "members, host".to_owned()),
            ]
        );
        let notes = artifact("notes", ContentType::Text, &"n".repeat(1000));
        assert_eq!(facts_of(&notes)[0].value.len(), FACT_CHARS);
        assert!(facts_of(&artifact("x", ContentType::Json, "[1]")).is_empty());
    }
}
