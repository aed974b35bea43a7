//! Vibe's build agent (`vibe-build`, agent type `build`): fixes the generated app's code when the
//! compiler or the app's tests fail.
//!
//! The platform generates an app from its spec with deterministic templates, writes the files as
//! the `code` artifact (`{"files": {path: content}}`) and, when the build fails while an LLM is
//! configured, gives this agent a turn whose message is the errors (`host/src/build/repair.rs`).
//! The agent asks the model for corrected files ([`prompt`]), takes the answer only if every
//! file it writes is a Rust source under `src/` within the size limits ([`answer`], [`code`]),
//! writes the `code` artifact's next version with the changes and replies with a short account.
//! A refused answer or a failed model call fails the turn (nothing is written, the reason is
//! the failure's message). In guided mode (`not-configured`) it replies that the templates are
//! used as generated, and changes nothing.
//!
//! `cargo test` in `plugins/` runs the deterministic parts natively.

// Off wasm32 (`cargo test` in plugins/) the export macro exports nothing, so the agent looks unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

pub mod answer;
pub mod code;
pub mod prompt;

use vibe_agent_sdk::llm::{self as model, LlmMessage, LlmRole, Request};
use vibe_agent_sdk::prelude::*;
use vibe_agent_sdk::serde_json::{self, Value};
use vibe_guided::artifacts;

use crate::code::Code;

/// The system instructions the model gets (also stored in the registry with this version).
pub const INSTRUCTIONS: &str = include_str!("../instructions.md");
/// The agent's configuration (also stored in the registry with this version).
pub const CONFIGURATION: &str = include_str!("../configuration.json");
/// The agent type (pipeline stage) this agent serves.
pub const STAGE: &str = "build";
/// What the agent says in guided mode.
pub const GUIDED_REPLY: &str =
    "No model is configured, so the app's code stays as the templates generated it: nothing was changed.";

struct BuildAgent;

impl Agent for BuildAgent {
    fn describe() -> Description {
        describe("vibe-build", env!("CARGO_PKG_VERSION"))
            .serves(STAGE)
            .wants(Capability::Llm)
            .wants(Capability::Events)
            .wants(Capability::PipelineRead)
            .wants(Capability::PipelineWrite)
            .wants(Capability::Log)
            .build()
    }

    fn handle_turn(turn: TurnInput) -> Result<TurnOutput, String> {
        let Some(code_artifact) = artifact(&turn, code::ARTIFACT)? else {
            return Ok(Reply::new()
                .say("There is no generated code for this idea yet: start a build first.")
                .into());
        };
        let code = Code::parse(&code_artifact.content)?;
        let errors = turn.message.content.trim();
        if errors.is_empty() {
            return Ok(Reply::new()
                .say("Send me the compiler's or the tests' errors and I will fix the code.")
                .into());
        }
        let spec = match artifact(&turn, artifacts::SPEC)? {
            Some(spec) => serde_json::from_str::<Value>(&spec.content).ok(),
            None => None,
        };
        let _ = events::thinking("fixing the build's errors");
        let earlier = earlier_answers(&turn);
        let prompt = prompt::prompt(spec.as_ref(), &code, errors, &earlier);
        let configuration: Value = serde_json::from_str(CONFIGURATION).unwrap_or(Value::Null);
        let settings = &configuration["llm"];
        let request = Request {
            system: Some(INSTRUCTIONS.to_owned()),
            messages: vec![LlmMessage { role: LlmRole::User, content: prompt }],
            max_tokens: settings["max_tokens"].as_u64().map(|n| n as u32),
            temperature: settings["temperature"].as_f64().map(|t| t as f32),
            model: settings["model"].as_str().map(str::to_owned),
        };
        let response = match model::complete(&request) {
            Ok(response) => response,
            Err(model::Error::NotConfigured(_)) => return Ok(Reply::new().say(GUIDED_REPLY).into()),
            Err(error) => {
                return Err(format!("the model could not be asked to fix the code: {}", reason(&error)));
            }
        };
        let fix = answer::parse(&response.content, &code).map_err(|why| {
            log::warn(&format!("refused the model's answer: {why}"));
            format!("the model's answer was refused ({why}); nothing was changed")
        })?;
        let account = answer::account(&fix);
        let changed: Vec<&str> = fix.changes.keys().map(String::as_str).collect();
        let _ = events::tool_call("fix_files", &first_line(errors), &changed.join(", "));
        let mut reply = Reply::new().say(account);
        if !fix.changes.is_empty() {
            reply = reply.write_json(code::ARTIFACT, &code.with(&fix.changes).to_json());
        }
        Ok(reply.into())
    }
}

/// The latest version of artifact `name`: from the turn's input if the host gave it, else read.
fn artifact(turn: &TurnInput, name: &str) -> Result<Option<Artifact>, String> {
    if let Some(given) = turn.artifacts.iter().find(|artifact| artifact.name == name) {
        return Ok(Some(given.clone()));
    }
    pipeline::get(name).map_err(|error| format!("cannot read the {name} artifact: {error:?}"))
}

/// What this agent answered earlier in the session (earlier attempts of the build), oldest first.
fn earlier_answers(turn: &TurnInput) -> Vec<String> {
    turn.transcript
        .iter()
        .filter(|message| message.role == Role::Agent && message.agent_type.as_deref() == Some(STAGE))
        .map(|message| message.content.clone())
        .collect()
}

/// Why a model call failed, in words.
fn reason(error: &model::Error) -> String {
    match error {
        model::Error::NotConfigured(why) => format!("no model is configured ({why})"),
        model::Error::Denied(why) => format!("the llm capability is not granted ({why})"),
        model::Error::RateLimited(why) => format!("rate limited ({why})"),
        model::Error::InsufficientCredits(why) => format!("not enough credits ({why})"),
        model::Error::TooLarge(why) => format!("the request is too large ({why})"),
        model::Error::Provider(why) => format!("the provider failed ({why})"),
    }
}

/// The first line of `text`, at most 200 characters (for the tool-call event).
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().chars().take(200).collect()
}

vibe_agent_sdk::export_agent!(BuildAgent);
