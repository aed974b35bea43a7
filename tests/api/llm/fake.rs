//! A local HTTP server speaking both providers' real wire formats: the Anthropic Messages API at
//! `POST /v1/messages` and the OpenAI Chat Completions API at `POST /v1/chat/completions`, JSON
//! and server-sent events (frames cut in two, as networks deliver them), tool calls included.
//!
//! Unless a test scripted another reply, it answers `answer to: <last user text>`; offered tools,
//! it calls the first one with `{"q": <text>}`; given tool results, it answers
//! `tool said: <result>`. Every request is recorded with its headers.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// Tokens every default answer reports.
pub const INPUT_TOKENS: u32 = 1000;
pub const OUTPUT_TOKENS: u32 = 500;

/// A scripted reply.
#[derive(Clone, Debug)]
pub enum Reply {
    /// The default answer (see the module's doc).
    Default,
    /// An error status with a JSON body in the provider's error shape, and `retry-after`.
    Status { status: u16, message: String, retry_after: Option<u64> },
    /// Never answers.
    Hang,
    /// `200` with this body as JSON.
    RawJson(String),
    /// `200` with these SSE frames, verbatim.
    RawSse(Vec<String>),
}

/// A request the server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
}

/// The server.
pub struct FakeProvider {
    pub addr: SocketAddr,
    script: Arc<Script>,
}

impl FakeProvider {
    pub async fn start() -> FakeProvider {
        let script = Arc::new(Script::default());
        let app = Router::new()
            .route("/v1/messages", post(anthropic))
            .route("/v1/chat/completions", post(openai))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeProvider { addr, script }
    }

    /// Queues `reply` for the next request (then the default again).
    pub fn push(&self, reply: Reply) {
        self.script.replies.lock().unwrap().push_back(reply);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.script.requests.lock().unwrap().clone()
    }

    /// The Anthropic base URL (`{base}/v1/messages`).
    pub fn anthropic_base(&self) -> url::Url {
        format!("http://{}", self.addr).parse().unwrap()
    }

    /// The OpenAI base URL (`{base}/chat/completions`).
    pub fn openai_base(&self) -> url::Url {
        format!("http://{}/v1", self.addr).parse().unwrap()
    }
}

impl Script {
    fn take(&self, path: &str, headers: HeaderMap, body: &Bytes) -> (Reply, Value) {
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        self.requests.lock().unwrap().push(Recorded { path: path.to_owned(), headers, body: body.clone() });
        (self.replies.lock().unwrap().pop_front().unwrap_or(Reply::Default), body)
    }
}

/// What the default answer is.
enum Answer {
    Text(String),
    Tool { name: String, arguments: Value },
}

fn answer_for(last_user_text: &str, tool_result: Option<&str>, first_tool: Option<&str>) -> Answer {
    match (tool_result, first_tool) {
        (Some(result), _) => Answer::Text(format!("tool said: {result}")),
        (None, Some(tool)) => Answer::Tool { name: tool.to_owned(), arguments: json!({"q": last_user_text}) },
        (None, None) => Answer::Text(format!("answer to: {last_user_text}")),
    }
}

/// Splits text into a few pieces, as models stream it.
fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = rest.char_indices().nth(5).map_or(rest.len(), |(index, _)| index);
        out.push(rest[..cut].to_owned());
        rest = &rest[cut..];
    }
    out
}

/// An SSE body from `frames`, each frame sent as two chunks cut in its middle.
fn sse(frames: Vec<String>) -> Response {
    let chunks: Vec<Result<Bytes, Infallible>> = frames
        .into_iter()
        .flat_map(|frame| {
            let middle = frame.char_indices().nth(frame.chars().count() / 2).map_or(0, |(index, _)| index);
            let (first, second) = frame.split_at(middle);
            [Ok(Bytes::from(first.to_owned())), Ok(Bytes::from(second.to_owned()))]
        })
        .collect();
    let stream = futures::stream::iter(chunks);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap()
}

async fn scripted(reply: &Reply, error_shape: impl Fn(&str) -> Value) -> Option<Response> {
    match reply {
        Reply::Default => None,
        Reply::Status { status, message, retry_after } => {
            let mut response =
                (StatusCode::from_u16(*status).unwrap(), axum::Json(error_shape(message))).into_response();
            if let Some(after) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, after.to_string().parse().unwrap());
            }
            Some(response)
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            None
        }
        Reply::RawJson(body) => {
            Some(([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response())
        }
        Reply::RawSse(frames) => Some(sse(frames.clone())),
    }
}

// ---- Anthropic Messages API ----

async fn anthropic(State(script): State<Arc<Script>>, headers: HeaderMap, body: Bytes) -> Response {
    let (reply, request) = script.take("/v1/messages", headers, &body);
    let error_shape =
        |message: &str| json!({"type": "error", "error": {"type": "api_error", "message": message}});
    if let Some(response) = scripted(&reply, error_shape).await {
        return response;
    }
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let last_text = last["content"].as_str().unwrap_or_default().to_owned();
    let tool_result = last["content"]
        .as_array()
        .and_then(|blocks| blocks.iter().find(|block| block["type"] == "tool_result"))
        .map(|block| block["content"].as_str().unwrap_or_default().to_owned());
    let first_tool = request["tools"][0]["name"].as_str();
    let answer = answer_for(&last_text, tool_result.as_deref(), first_tool);
    if request["stream"] == json!(true) { anthropic_stream(&answer) } else { anthropic_json(&answer) }
}

fn anthropic_json(answer: &Answer) -> Response {
    let (content, stop) = match answer {
        Answer::Text(text) => (json!([{"type": "text", "text": text}]), "end_turn"),
        Answer::Tool { name, arguments } => (
            json!([
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_01", "name": name, "input": arguments}
            ]),
            "tool_use",
        ),
    };
    axum::Json(json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-test",
        "content": content, "stop_reason": stop, "stop_sequence": null,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}
    }))
    .into_response()
}

/// An Anthropic event frame.
pub fn anthropic_frame(data: Value) -> String {
    format!("event: {}\ndata: {}\n\n", data["type"].as_str().unwrap(), data)
}

/// The frames of a streamed Anthropic answer, up to (not including) `message_delta`.
pub fn anthropic_frames(text: &str, tool: Option<(&str, &[&str])>) -> Vec<String> {
    let mut frames = vec![
        anthropic_frame(json!({"type": "message_start", "message": {
            "id": "msg_01", "type": "message", "role": "assistant", "content": [], "model": "claude-test",
            "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1}
        }})),
        anthropic_frame(
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        anthropic_frame(json!({"type": "ping"})),
    ];
    for piece in pieces(text) {
        frames.push(anthropic_frame(
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}),
        ));
    }
    frames.push(anthropic_frame(json!({"type": "content_block_stop", "index": 0})));
    if let Some((name, argument_pieces)) = tool {
        frames.push(anthropic_frame(json!({"type": "content_block_start", "index": 1, "content_block": {
            "type": "tool_use", "id": "toolu_01", "name": name, "input": {}
        }})));
        for piece in argument_pieces {
            frames.push(anthropic_frame(json!({"type": "content_block_delta", "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": piece}})));
        }
        frames.push(anthropic_frame(json!({"type": "content_block_stop", "index": 1})));
    }
    frames
}

/// The closing frames of a streamed Anthropic answer.
pub fn anthropic_end(stop_reason: &str) -> Vec<String> {
    vec![
        anthropic_frame(json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": OUTPUT_TOKENS}})),
        anthropic_frame(json!({"type": "message_stop"})),
    ]
}

fn anthropic_stream(answer: &Answer) -> Response {
    let mut frames = match answer {
        Answer::Text(text) => anthropic_frames(text, None),
        Answer::Tool { name, arguments } => {
            let arguments = arguments.to_string();
            let (first, second) = arguments.split_at(arguments.len() / 2);
            anthropic_frames("Let me look.", Some((name, &["", first, second])))
        }
    };
    frames.extend(anthropic_end(if matches!(answer, Answer::Tool { .. }) { "tool_use" } else { "end_turn" }));
    sse(frames)
}

// ---- OpenAI Chat Completions API ----

async fn openai(State(script): State<Arc<Script>>, headers: HeaderMap, body: Bytes) -> Response {
    let (reply, request) = script.take("/v1/chat/completions", headers, &body);
    let error_shape =
        |message: &str| json!({"error": {"message": message, "type": "invalid_request_error", "code": null}});
    if let Some(response) = scripted(&reply, error_shape).await {
        return response;
    }
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let last_text = if last["role"] == "user" { last["content"].as_str().unwrap_or_default() } else { "" };
    let tool_result =
        (last["role"] == "tool").then(|| last["content"].as_str().unwrap_or_default().to_owned());
    let first_tool = request["tools"][0]["function"]["name"].as_str();
    let answer = answer_for(last_text, tool_result.as_deref(), first_tool);
    if request["stream"] == json!(true) { openai_stream(&answer) } else { openai_json(&answer) }
}

fn openai_json(answer: &Answer) -> Response {
    let (message, finish) = match answer {
        Answer::Text(text) => (json!({"role": "assistant", "content": text}), "stop"),
        Answer::Tool { name, arguments } => (
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_01", "type": "function", "function": {"name": name, "arguments": arguments.to_string()}}
            ]}),
            "tool_calls",
        ),
    };
    axum::Json(json!({
        "id": "chatcmpl-01", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-test",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS, "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS}
    }))
    .into_response()
}

/// An OpenAI chunk frame with `delta` and `finish_reason`.
pub fn openai_frame(delta: Value, finish_reason: Option<&str>) -> String {
    let chunk = json!({
        "id": "chatcmpl-01", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "gpt-test",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]
    });
    format!("data: {chunk}\n\n")
}

/// The usage chunk and `[DONE]`.
pub fn openai_end() -> Vec<String> {
    let usage = json!({
        "id": "chatcmpl-01", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "gpt-test",
        "choices": [], "usage": {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS, "total_tokens": 1500}
    });
    vec![format!("data: {usage}\n\n"), "data: [DONE]\n\n".to_owned()]
}

/// The frames of a streamed OpenAI answer with text, then tool-call pieces, up to the finish.
pub fn openai_frames(text: &str, tool: Option<(&str, &[&str])>) -> Vec<String> {
    let mut frames = vec![openai_frame(json!({"role": "assistant", "content": ""}), None)];
    for piece in pieces(text) {
        frames.push(openai_frame(json!({"content": piece}), None));
    }
    if let Some((name, argument_pieces)) = tool {
        frames.push(openai_frame(
            json!({"tool_calls": [{"index": 0, "id": "call_01", "type": "function",
                "function": {"name": name, "arguments": ""}}]}),
            None,
        ));
        for piece in argument_pieces {
            frames.push(openai_frame(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                None,
            ));
        }
        frames.push(openai_frame(json!({}), Some("tool_calls")));
    } else {
        frames.push(openai_frame(json!({}), Some("stop")));
    }
    frames
}

fn openai_stream(answer: &Answer) -> Response {
    let mut frames = match answer {
        Answer::Text(text) => openai_frames(text, None),
        Answer::Tool { name, arguments } => {
            let arguments = arguments.to_string();
            let (first, second) = arguments.split_at(arguments.len() / 2);
            openai_frames("", Some((name, &[first, second])))
        }
    };
    frames.extend(openai_end());
    sse(frames)
}
