//! Vibe's ideation agent (`vibe-ideation`, agent type `ideation`): interviews the person about their
//! app idea, one question per turn, and hands the idea to the `spec` stage when the interview is done.
//!
//! Each turn reads the `interview` artifact, applies the new message and writes the artifact back
//! (with the version it read, so two turns racing on one idea cannot lose an answer). With an LLM
//! (`llm.complete` succeeds) the model leads the conversation and extracts the answers as JSON; in
//! guided mode (`not-configured`), or when the model's answer does not parse, `vibe-guided`'s
//! structured interview does. The last turn replies with the summary, asks the host to write the
//! `idea-summary` artifact and hands off to `spec`.

// Off wasm32 (`cargo test` in plugins/) the export macro exports nothing, so the agent looks unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use vibe_agent_sdk::llm::{self as model, LlmMessage, LlmRole, Request};
use vibe_agent_sdk::prelude::*;
use vibe_agent_sdk::serde_json::{self, Value};
use vibe_guided::interview::Interview;
use vibe_guided::{artifacts, llm as prompts, stages, summary};

/// The system instructions the model gets (also stored in the registry with this version).
pub const INSTRUCTIONS: &str = include_str!("../instructions.md");
/// The agent's configuration (also stored in the registry with this version).
pub const CONFIGURATION: &str = include_str!("../configuration.json");

struct Ideation;

impl Agent for Ideation {
    fn describe() -> Description {
        describe("vibe-ideation", env!("CARGO_PKG_VERSION"))
            .serves(stages::IDEATION)
            .wants(Capability::Llm)
            .wants(Capability::Events)
            .wants(Capability::PipelineRead)
            .wants(Capability::PipelineWrite)
            .wants(Capability::Log)
            .build()
    }

    fn handle_turn(turn: TurnInput) -> Result<TurnOutput, String> {
        let (mut interview, version) = read_interview(&turn)?;
        if interview.complete {
            return Ok(finish(&interview, None));
        }
        let _ = events::thinking("reading your answer");
        let conversed = converse(&mut interview, &turn);
        let (reply, finished) = match conversed {
            Some(turn) => turn,
            None => {
                let step = interview.take(&turn.message.content);
                (step.reply, step.finished)
            }
        };
        let content = interview.to_json().to_string();
        pipeline::put(artifacts::INTERVIEW, ContentType::Json, &content, Some(version)).map_err(|error| {
            match error {
                Error::Conflict(_) => {
                    "your previous message is still being handled; send this one again".to_owned()
                }
                other => format!("cannot save the interview: {other:?}"),
            }
        })?;
        if finished {
            let said_by_model = (!reply.trim().is_empty() && interview.mode == "llm").then_some(reply);
            return Ok(finish(&interview, said_by_model));
        }
        Ok(Reply::new().say(reply).into())
    }
}

/// The interview so far and the version it was read at (0: none yet).
fn read_interview(turn: &TurnInput) -> Result<(Interview, u32), String> {
    let given = turn.artifacts.iter().find(|artifact| artifact.name == artifacts::INTERVIEW).cloned();
    let artifact = match given {
        Some(artifact) => Some(artifact),
        None => pipeline::get(artifacts::INTERVIEW)
            .map_err(|error| format!("cannot read the interview: {error:?}"))?,
    };
    Ok(match artifact {
        Some(artifact) => match Interview::parse(&artifact.content) {
            Some(interview) => (interview, artifact.version),
            // Not ours (or from an incompatible version): start afresh on top of it.
            None => (Interview::default(), artifact.version),
        },
        None => (Interview::default(), 0),
    })
}

/// One turn led by the model: `None` in guided mode, or when its answer does not parse.
fn converse(interview: &mut Interview, turn: &TurnInput) -> Option<(String, bool)> {
    let configuration: Value = serde_json::from_str(CONFIGURATION).unwrap_or(Value::Null);
    let settings = &configuration["llm"];
    let keep = settings["transcript_messages"].as_u64().unwrap_or(20) as usize;
    let mut messages: Vec<LlmMessage> = turn
        .transcript
        .iter()
        .filter_map(|message| {
            let role = match message.role {
                Role::User => LlmRole::User,
                Role::Agent => LlmRole::Assistant,
                Role::System | Role::Tool => return None,
            };
            Some(LlmMessage { role, content: message.content.clone() })
        })
        .collect();
    messages = messages.split_off(messages.len().saturating_sub(keep));
    // The model expects the conversation to start with the person.
    while messages.first().is_some_and(|message| message.role == LlmRole::Assistant) {
        messages.remove(0);
    }
    messages.push(LlmMessage {
        role: LlmRole::User,
        content: prompts::ideation_prompt(interview, &turn.message.content),
    });
    let request = Request {
        system: Some(INSTRUCTIONS.to_owned()),
        messages,
        max_tokens: settings["max_tokens"].as_u64().map(|n| n as u32),
        temperature: settings["temperature"].as_f64().map(|t| t as f32),
        model: settings["model"].as_str().map(str::to_owned),
    };
    let response = match model::complete(&request) {
        Ok(response) => response,
        Err(model::Error::NotConfigured(_)) => return None,
        Err(error) => {
            log::warn(&format!("the LLM failed ({error:?}); asking the guided question instead"));
            return None;
        }
    };
    let Some(parsed) = prompts::parse_ideation(&response.content) else {
        log::warn("the LLM's answer was not the JSON asked for; asking the guided question instead");
        return None;
    };
    if interview.opening.is_empty() {
        interview.opening = turn.message.content.trim().chars().take(2000).collect();
    }
    prompts::merge(interview, &parsed);
    Some((parsed.reply, interview.complete))
}

/// The closing turn: the summary, the `idea-summary` artifact and the hand-off to `spec`.
fn finish(interview: &Interview, said_by_model: Option<String>) -> TurnOutput {
    let closing = summary::closing_reply(interview);
    let reply = match said_by_model {
        Some(said) => format!("{said}\n\n{closing}"),
        None => closing,
    };
    Reply::new()
        .say(reply)
        .write_json(artifacts::IDEA_SUMMARY, &summary::idea_summary(interview))
        .hand_off(stages::SPEC, format!("The interview is complete.\n{}", summary::idea_text(interview)))
        .into()
}

vibe_agent_sdk::export_agent!(Ideation);
