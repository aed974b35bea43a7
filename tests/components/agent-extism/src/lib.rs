//! The echo agent as an Extism plugin, built with `extism-pdk` for `wasm32-unknown-unknown`: the
//! same behaviour as `agent-echo`, through the host's JSON contract (`describe`, `handle_turn`)
//! and its `vibe_*` host functions. `ping` answers `pong` without any host call (the benchmark's
//! trivial agent); `spin` loops until its fuel runs out.

use extism_pdk::{FnResult, host_fn, plugin_fn};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[host_fn]
extern "ExtismHost" {
    fn vibe_kv_get(input: String) -> String;
    fn vibe_kv_set(input: String) -> String;
    fn vibe_pipeline_get(input: String) -> String;
    fn vibe_pipeline_put(input: String) -> String;
    fn vibe_events_thinking(input: String) -> String;
    fn vibe_events_tool_call(input: String) -> String;
    fn vibe_llm_complete(input: String) -> String;
    fn vibe_log(input: String) -> String;
}

#[derive(Deserialize)]
struct Message {
    content: String,
}

#[derive(Deserialize)]
struct TurnInput {
    agent_type: String,
    transcript: Vec<Value>,
    artifacts: Vec<Value>,
    message: Message,
}

#[derive(Serialize, Default)]
struct TurnOutput {
    replies: Vec<String>,
    artifacts: Vec<Value>,
    tool_calls: Vec<Value>,
    hand_off: Option<Value>,
}

/// Calls host function `f` with `input` as JSON and returns its `{"ok"}` or `{"error"}` answer.
fn host(f: unsafe fn(String) -> Result<String, extism_pdk::Error>, input: Value) -> Result<Value, Value> {
    // SAFETY: the host functions take and return one JSON string each, as declared above.
    let answer = unsafe { f(input.to_string()) }.map_err(|error| json!(error.to_string()))?;
    let answer: Value = serde_json::from_str(&answer).map_err(|error| json!(error.to_string()))?;
    match answer.get("ok") {
        Some(ok) => Ok(ok.clone()),
        None => Err(answer.get("error").cloned().unwrap_or(Value::Null)),
    }
}

#[plugin_fn]
pub fn describe() -> FnResult<String> {
    let description = json!({
        "name": "echo-extism",
        "version": "0.1.0",
        "agent_types": ["ideation", "support"],
        "capabilities": ["llm", "kv", "events", "pipeline-read", "pipeline-write", "log"],
    });
    Ok(description.to_string())
}

#[plugin_fn]
pub fn handle_turn(input: String) -> FnResult<String> {
    let turn: TurnInput = serde_json::from_str(&input)?;
    let said = turn.message.content.clone();
    if said == "ping" {
        return Ok(serde_json::to_string(&TurnOutput {
            replies: vec!["pong".to_owned()],
            ..TurnOutput::default()
        })?);
    }
    if said == "spin" {
        let mut counter = 0u64;
        loop {
            counter = std::hint::black_box(counter.wrapping_add(1));
        }
    }
    let mut lines = vec![format!("echo: {said}")];
    lines.push(format!("thinking: {:?}", host(vibe_events_thinking, json!({"text": "echoing"})).err()));
    let turns = host(vibe_kv_get, json!({"key": "turns"}))
        .ok()
        .and_then(|value| serde_json::from_value::<Option<Vec<u8>>>(value).ok().flatten())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    let stored = host(vibe_kv_set, json!({"key": "turns", "value": turns.to_string().into_bytes()}));
    lines.push(format!("kv: {:?} turns={turns}", stored.err()));
    match host(vibe_pipeline_get, json!({"name": "summary"})) {
        Ok(Value::Null) => lines.push("summary: none".to_owned()),
        Ok(summary) => lines.push(format!(
            "summary v{}: {}",
            summary["version"],
            summary["content"].as_str().unwrap_or("")
        )),
        Err(error) => lines.push(format!("summary: {error}")),
    }
    let notes = json!({"name": "notes", "content_type": "text", "content": format!("turn {turns}: {said}")});
    match host(vibe_pipeline_put, notes) {
        Ok(version) => lines.push(format!("notes: v{version}")),
        Err(error) => lines.push(format!("notes: {error}")),
    }
    let _ =
        host(vibe_log, json!({"level": "info", "message": format!("turn {turns} of {}", turn.agent_type)}));
    let request = json!({"system": "be brief", "messages": [{"role": "user", "content": said}]});
    match host(vibe_llm_complete, request) {
        Ok(response) => lines.push(format!("llm: {}", response["content"].as_str().unwrap_or(""))),
        Err(error) => lines.push(format!("llm: {error}")),
    }
    let tool = json!({"name": "echo", "input": said, "output": "echoed"});
    lines.push(format!("tool: {:?}", host(vibe_events_tool_call, tool.clone()).err()));
    lines.push(format!("transcript: {} messages, {} artifacts", turn.transcript.len(), turn.artifacts.len()));
    let output = TurnOutput {
        replies: vec![lines.join("\n")],
        artifacts: vec![
            json!({"name": "echo", "content_type": "json", "content": json!({"said": said}).to_string()}),
        ],
        tool_calls: vec![tool],
        hand_off: (said == "done").then(|| json!({"to_stage": "spec", "note": "the idea is clear"})),
    };
    Ok(serde_json::to_string(&output)?)
}
