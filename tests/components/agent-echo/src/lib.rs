//! The echo agent: on `ping` it answers `pong` and touches nothing (the benchmark's trivial
//! agent); on anything else it emits `agent:thinking`, counts the turn in kv, reads the idea's
//! `summary` artifact, writes a `notes` artifact, logs, asks the LLM, reports a tool call, and
//! replies with one fact per line, asking the host to write an `echo` JSON artifact. On `done`
//! it also hands off to `spec`. On `weather in <city>` it does a tool round trip through the
//! LLM (`complete-with-tools`). On `sleep <ms>` it sleeps that long (a slow turn, for the
//! orchestrator's crash tests) and answers `slept <ms> ms`, touching nothing.

use vibe_agent_sdk::prelude::*;

struct Echo;

fn facts(turn: &TurnInput) -> Vec<String> {
    let mut lines = vec![format!("echo: {}", turn.message.content)];
    lines.push(format!("thinking: {:?}", events::thinking("echoing").err()));
    let turns = kv::get_string("turns").ok().flatten().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + 1;
    lines.push(format!("kv: {:?} turns={turns}", kv::set("turns", turns.to_string()).err()));
    match pipeline::get("summary") {
        Ok(Some(summary)) => lines.push(format!("summary v{}: {}", summary.version, summary.content)),
        Ok(None) => lines.push("summary: none".to_owned()),
        Err(error) => lines.push(format!("summary: {error:?}")),
    }
    match pipeline::put_text("notes", &format!("turn {turns}: {}", turn.message.content)) {
        Ok(version) => lines.push(format!("notes: v{version}")),
        Err(error) => lines.push(format!("notes: {error:?}")),
    }
    log::info(&format!("turn {turns} of {}", turn.agent_type));
    match llm::ask(Some("be brief"), &turn.message.content) {
        Ok(answer) => lines.push(format!("llm: {answer}")),
        Err(error) => lines.push(format!("llm: {error:?}")),
    }
    lines.push(format!("tool: {:?}", events::tool_call("echo", &turn.message.content, "echoed").err()));
    lines.push(format!("transcript: {} messages, {} artifacts", turn.transcript.len(), turn.artifacts.len()));
    lines
}

/// A tool round trip: offers a `weather` tool, answers the call the model makes, and returns
/// what the model says with the result (or the first error).
fn weather(city: &str) -> String {
    let schema = vibe_agent_sdk::serde_json::json!({"type": "object", "properties": {"q": {"type": "string"}}});
    let tools = vec![llm::tool("weather", "The weather in a city", &schema)];
    let asked = match llm::ask_with_tools(None, city, tools.clone()) {
        Ok(asked) => asked,
        Err(error) => return format!("tools: {error:?}"),
    };
    let results = asked
        .tool_calls
        .iter()
        .map(|call| llm::ToolResult {
            call_id: call.id.clone(),
            content: format!("sunny ({})", call.arguments),
            is_error: false,
        })
        .collect();
    let request = llm::ToolRequest {
        system: None,
        messages: vec![
            llm::ToolMessage::User(city.to_owned()),
            llm::ToolMessage::Assistant(llm::AssistantTurn {
                content: asked.content.clone(),
                tool_calls: asked.tool_calls.clone(),
            }),
            llm::ToolMessage::ToolResults(results),
        ],
        tools,
        max_tokens: None,
        temperature: None,
        model: None,
    };
    match llm::complete_with_tools(&request) {
        Ok(answer) => format!("tools: called {} then: {}", asked.tool_calls.len(), answer.content),
        Err(error) => format!("tools: {error:?}"),
    }
}

impl Agent for Echo {
    fn describe() -> Description {
        describe("echo", "0.1.0")
            .serves("ideation")
            .serves("support")
            .wants(Capability::Llm)
            .wants(Capability::Kv)
            .wants(Capability::Events)
            .wants(Capability::PipelineRead)
            .wants(Capability::PipelineWrite)
            .wants(Capability::Log)
            .build()
    }

    fn handle_turn(turn: TurnInput) -> Result<TurnOutput, String> {
        if turn.message.content == "ping" {
            return Ok(Reply::new().say("pong").into());
        }
        if let Some(ms) = turn.message.content.strip_prefix("sleep ").and_then(|ms| ms.parse::<u64>().ok()) {
            std::thread::sleep(std::time::Duration::from_millis(ms));
            return Ok(Reply::new().say(format!("slept {ms} ms")).into());
        }
        if turn.message.content == "refuse" {
            return Err("I will not".to_owned());
        }
        if let Some(city) = turn.message.content.strip_prefix("weather in ") {
            return Ok(Reply::new().say(weather(city)).into());
        }
        let facts = facts(&turn);
        let mut reply = Reply::new()
            .say(facts.join("\n"))
            .write_json("echo", &vibe_agent_sdk::serde_json::json!({ "said": turn.message.content }))
            .tool_call("echo", &turn.message.content, "echoed");
        if turn.message.content == "done" {
            reply = reply.hand_off("spec", "the idea is clear");
        }
        Ok(reply.into())
    }
}

vibe_agent_sdk::export_agent!(Echo);
