//! Builders for what an agent returns: its [`Description`] and a turn's [`TurnOutput`].

use crate::{ArtifactWrite, Capability, ContentType, Description, HandOff, ToolCall, TurnOutput};

/// Starts a description of agent `name` at `version`.
pub fn describe(name: &str, version: &str) -> DescriptionBuilder {
    DescriptionBuilder(Description {
        name: name.to_owned(),
        version: version.to_owned(),
        agent_types: Vec::new(),
        capabilities: Vec::new(),
    })
}

/// A [`Description`] being built.
#[derive(Clone, Debug)]
pub struct DescriptionBuilder(Description);

impl DescriptionBuilder {
    /// Serves agent type (pipeline stage) `agent_type`.
    pub fn serves(mut self, agent_type: &str) -> Self {
        self.0.agent_types.push(agent_type.to_owned());
        self
    }

    /// Wants `capability`.
    pub fn wants(mut self, capability: Capability) -> Self {
        self.0.capabilities.push(capability);
        self
    }

    /// The description.
    pub fn build(self) -> Description {
        self.0
    }
}

/// A turn's output being built; `.into()` makes the [`TurnOutput`].
#[derive(Clone, Debug)]
pub struct Reply(TurnOutput);

impl Default for Reply {
    fn default() -> Self {
        Reply::new()
    }
}

impl Reply {
    /// An empty reply.
    pub fn new() -> Self {
        Reply(TurnOutput {
            replies: Vec::new(),
            artifacts: Vec::new(),
            tool_calls: Vec::new(),
            hand_off: None,
        })
    }

    /// Adds a reply message.
    pub fn say(mut self, text: impl Into<String>) -> Self {
        self.0.replies.push(text.into());
        self
    }

    /// Asks the host to write a text artifact when the turn succeeds.
    pub fn write_text(mut self, name: &str, content: impl Into<String>) -> Self {
        let content = content.into();
        self.0.artifacts.push(ArtifactWrite {
            name: name.to_owned(),
            content_type: ContentType::Text,
            content,
        });
        self
    }

    /// Asks the host to write a JSON artifact when the turn succeeds.
    pub fn write_json(mut self, name: &str, content: &serde_json::Value) -> Self {
        let content = content.to_string();
        self.0.artifacts.push(ArtifactWrite {
            name: name.to_owned(),
            content_type: ContentType::Json,
            content,
        });
        self
    }

    /// Records a tool the agent used.
    pub fn tool_call(mut self, name: &str, input: &str, output: &str) -> Self {
        let call = ToolCall { name: name.to_owned(), input: input.to_owned(), output: output.to_owned() };
        self.0.tool_calls.push(call);
        self
    }

    /// Hands the idea to stage `to_stage` with `note`.
    pub fn hand_off(mut self, to_stage: &str, note: impl Into<String>) -> Self {
        self.0.hand_off = Some(HandOff { to_stage: to_stage.to_owned(), note: note.into() });
        self
    }
}

impl From<Reply> for TurnOutput {
    fn from(reply: Reply) -> Self {
        reply.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_make_the_records() {
        let description = describe("echo", "1.2.3").serves("ideation").wants(Capability::Kv).build();
        assert_eq!(description.agent_types, ["ideation"]);
        assert_eq!(description.capabilities.len(), 1);

        let output: TurnOutput = Reply::new()
            .say("hi")
            .write_json("summary", &serde_json::json!({"a": 1}))
            .tool_call("search", "q", "r")
            .hand_off("specification", "done")
            .into();
        assert_eq!(output.replies, ["hi"]);
        assert_eq!(output.artifacts[0].content, r#"{"a":1}"#);
        assert_eq!(output.hand_off.map(|h| h.to_stage).as_deref(), Some("specification"));
    }
}
