//! Vibe's spec agent (`vibe-spec`, agent type `spec`): turns the ideation interview into the app's
//! spec (`spec` artifact, JSON, `spec_version` 1), replies with a readable account of it and asks
//! the owner to confirm it (the confirmation itself is the platform's stage gate, not this agent's).
//!
//! The spec is derived deterministically by `vibe-guided`. With an LLM, the model is shown that
//! derivation and may propose a better spec; its proposal is taken only if it parses and passes
//! the spec check, otherwise the derived one stands. Once a spec exists, a message asking to "add"
//! something (e.g. "add tasks with title and due date") extends it; any other message is answered
//! with what the owner can do next.

// Off wasm32 (`cargo test` in plugins/) the export macro exports nothing, so the agent looks unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use vibe_agent_sdk::llm::{self as model, LlmMessage, LlmRole, Request};
use vibe_agent_sdk::prelude::*;
use vibe_agent_sdk::serde_json::{self, Value};
use vibe_guided::interview::Interview;
use vibe_guided::{artifacts, check, llm as prompts, spec, stages, summary, words};

/// The system instructions the model gets (also stored in the registry with this version).
pub const INSTRUCTIONS: &str = include_str!("../instructions.md");
/// The agent's configuration (also stored in the registry with this version).
pub const CONFIGURATION: &str = include_str!("../configuration.json");

struct SpecAgent;

impl Agent for SpecAgent {
    fn describe() -> Description {
        describe("vibe-spec", env!("CARGO_PKG_VERSION"))
            .serves(stages::SPEC)
            .wants(Capability::Llm)
            .wants(Capability::Events)
            .wants(Capability::PipelineRead)
            .wants(Capability::PipelineWrite)
            .wants(Capability::Log)
            .build()
    }

    fn handle_turn(turn: TurnInput) -> Result<TurnOutput, String> {
        let Some(interview_artifact) = artifact(&turn, artifacts::INTERVIEW)? else {
            return Ok(Reply::new()
                .say("I don't have the interview about your idea yet. Tell the ideation agent about your app first.")
                .into());
        };
        let Some(mut interview) = Interview::parse(&interview_artifact.content) else {
            return Err("the interview artifact is not in a format this agent reads".to_owned());
        };
        let existing = artifact(&turn, artifacts::SPEC)?;
        if existing.is_some() {
            let message = words::normalise(&turn.message.content);
            let Some(addition) = message.strip_prefix("add ") else {
                return Ok(Reply::new()
                    .say(
                        "The spec above is ready. Confirm it to start building, or tell me what to add, \
                         e.g. \"add tasks with title and due date\".",
                    )
                    .into());
            };
            // The addition becomes part of the answer about what they keep track of.
            let data = interview.answers.data.take().unwrap_or_default();
            let joined =
                if data.trim().is_empty() { addition.to_owned() } else { format!("{data}; {addition}") };
            interview.answers.data = Some(joined);
            let content = interview.to_json().to_string();
            pipeline::put(
                artifacts::INTERVIEW,
                ContentType::Json,
                &content,
                Some(interview_artifact.version),
            )
            .map_err(|error| format!("cannot update the interview: {error:?}"))?;
        }
        let _ = events::thinking("writing the spec of your app");
        let derived = spec::from_interview(&interview);
        let spec = propose(&interview, &derived).unwrap_or(derived);
        let _ = events::tool_call("derive_spec", artifacts::INTERVIEW, &summary_line(&spec));
        Ok(Reply::new().say(summary::spec_text(&spec)).write_json(artifacts::SPEC, &spec).into())
    }
}

/// The latest version of artifact `name`: from the turn's input if the host gave it, else read.
fn artifact(turn: &TurnInput, name: &str) -> Result<Option<Artifact>, String> {
    if let Some(given) = turn.artifacts.iter().find(|artifact| artifact.name == name) {
        return Ok(Some(given.clone()));
    }
    pipeline::get(name).map_err(|error| format!("cannot read the {name} artifact: {error:?}"))
}

/// The model's spec, if there is a model and its answer is a spec that passes the check.
fn propose(interview: &Interview, derived: &Value) -> Option<Value> {
    let configuration: Value = serde_json::from_str(CONFIGURATION).unwrap_or(Value::Null);
    let settings = &configuration["llm"];
    let request = Request {
        system: Some(INSTRUCTIONS.to_owned()),
        messages: vec![LlmMessage { role: LlmRole::User, content: prompts::spec_prompt(interview, derived) }],
        max_tokens: settings["max_tokens"].as_u64().map(|n| n as u32),
        temperature: settings["temperature"].as_f64().map(|t| t as f32),
        model: settings["model"].as_str().map(str::to_owned),
    };
    let response = match model::complete(&request) {
        Ok(response) => response,
        Err(model::Error::NotConfigured(_)) => return None,
        Err(error) => {
            log::warn(&format!("the LLM failed ({error:?}); using the derived spec"));
            return None;
        }
    };
    match prompts::extract_json(&response.content) {
        Some(proposed) if check::problems(&proposed).is_empty() => Some(proposed),
        Some(proposed) => {
            let problems = check::problems(&proposed);
            log::warn(&format!(
                "the LLM's spec has problems ({}); using the derived spec",
                problems.join("; ")
            ));
            None
        }
        None => {
            log::warn("the LLM's answer was not JSON; using the derived spec");
            None
        }
    }
}

/// "3 entities, 4 roles" for the tool-call event.
fn summary_line(spec: &Value) -> String {
    let count = |key: &str| spec[key].as_array().map_or(0, Vec::len);
    format!("{} entities, {} roles, {} pages", count("entities"), count("roles"), count("pages"))
}

vibe_agent_sdk::export_agent!(SpecAgent);
