//! The agent contract as serde types: the records of `vibe:agent@0.1.0` (wit/agent@0.1.0), field
//! for field. Components exchange them through the generated bindings (`bindings.rs` converts);
//! Extism plugins exchange them as JSON (snake_case fields, kebab-case enum values), so both kinds
//! of plugin answer in the same shape.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The version of the agent WIT this host serves.
pub const WIT_VERSION: &str = "0.1.0";

/// A host capability a plugin may ask for; operators approve them per plugin version.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Completions through the platform's LLM gateway, billed to the session.
    Llm,
    /// The plugin's key-value store for the idea.
    Kv,
    /// `agent:thinking` and `agent:tool_call` events to the session.
    Events,
    /// Reading the idea's pipeline artifacts.
    PipelineRead,
    /// Writing the idea's pipeline artifacts.
    PipelineWrite,
    /// The plugin's log.
    Log,
    /// Outbound HTTP to approved hosts.
    Http,
}

impl Capability {
    /// Every capability, in a stable order.
    pub const ALL: [Capability; 7] = [
        Capability::Llm,
        Capability::Kv,
        Capability::Events,
        Capability::PipelineRead,
        Capability::PipelineWrite,
        Capability::Log,
        Capability::Http,
    ];

    /// Its name in manifests and JSON (`pipeline-read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Llm => "llm",
            Capability::Kv => "kv",
            Capability::Events => "events",
            Capability::PipelineRead => "pipeline-read",
            Capability::PipelineWrite => "pipeline-write",
            Capability::Log => "log",
            Capability::Http => "http",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Capability {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|capability| capability.as_str() == name)
            .ok_or_else(|| format!("unknown capability `{name}`"))
    }
}

/// Who the plugin is, as it describes itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentDescription {
    /// The plugin's name.
    pub name: String,
    /// Its semver version.
    pub version: String,
    /// The agent types (pipeline stages) it serves.
    pub agent_types: Vec<String>,
    /// The capabilities it wants.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
}

/// Who wrote a transcript message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A person in the session.
    User,
    /// An agent.
    Agent,
    /// The platform.
    System,
    /// A tool's result.
    Tool,
}

/// One message of a session's transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// The agent type that wrote it, for agent messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_type: Option<String>,
    /// Its text.
    pub content: String,
}

/// How an artifact's content is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    /// JSON text.
    Json,
    /// Plain text.
    Text,
}

impl ContentType {
    /// Its name in the database and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Json => "json",
            ContentType::Text => "text",
        }
    }

    /// The content type stored as `name`.
    pub fn parse(name: &str) -> Option<ContentType> {
        match name {
            "json" => Some(ContentType::Json),
            "text" => Some(ContentType::Text),
            _ => None,
        }
    }
}

/// A pipeline artifact at one version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Its name (`summary`, `spec`...).
    pub name: String,
    /// How to read its content.
    pub content_type: ContentType,
    /// The content.
    pub content: String,
    /// Its version, from 1.
    pub version: u32,
}

/// An artifact a turn asks to write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactWrite {
    /// Its name.
    pub name: String,
    /// How to read its content.
    pub content_type: ContentType,
    /// The content.
    pub content: String,
}

/// A tool the agent used during a turn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The tool.
    pub name: String,
    /// What it was given.
    pub input: String,
    /// What it answered.
    pub output: String,
}

/// Passing the idea to the next stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandOff {
    /// The stage (agent type) that takes over.
    pub to_stage: String,
    /// What it should know.
    pub note: String,
}

/// Everything an agent gets for one turn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnInput {
    /// The agent type the turn is for.
    pub agent_type: String,
    /// The recent transcript, oldest first, without the new message.
    pub transcript: Vec<Message>,
    /// The latest versions of the artifacts the agent asked for.
    pub artifacts: Vec<Artifact>,
    /// The message to answer.
    pub message: Message,
}

/// What a turn produced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnOutput {
    /// Reply messages, in order.
    #[serde(default)]
    pub replies: Vec<String>,
    /// Artifacts to write, each as a new version.
    #[serde(default)]
    pub artifacts: Vec<ArtifactWrite>,
    /// Tools used during the turn.
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    /// The hand-off to the next stage, if any.
    #[serde(default)]
    pub hand_off: Option<HandOff>,
}

impl TurnOutput {
    /// The bytes of text it carries, what the output-size limit counts.
    pub fn size_bytes(&self) -> u64 {
        let replies: usize = self.replies.iter().map(String::len).sum();
        let artifacts: usize =
            self.artifacts.iter().map(|artifact| artifact.name.len() + artifact.content.len()).sum();
        let tools: usize =
            self.tool_calls.iter().map(|call| call.name.len() + call.input.len() + call.output.len()).sum();
        let hand_off =
            self.hand_off.as_ref().map_or(0, |hand_off| hand_off.to_stage.len() + hand_off.note.len());
        u64::try_from(replies + artifacts + tools + hand_off).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_round_trip_by_name() {
        for capability in Capability::ALL {
            assert_eq!(capability.as_str().parse::<Capability>(), Ok(capability));
            let json = serde_json::to_string(&capability).unwrap();
            assert_eq!(json, format!("\"{}\"", capability.as_str()));
        }
        assert!("filesystem".parse::<Capability>().is_err());
    }

    #[test]
    fn turn_output_json_may_leave_out_empty_parts() {
        let output: TurnOutput = serde_json::from_str(r#"{"replies": ["hi"]}"#).unwrap();
        assert_eq!(output.replies, ["hi"]);
        assert!(output.hand_off.is_none());
        assert_eq!(output.size_bytes(), 2);
    }
}
