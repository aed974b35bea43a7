//! The OpenAI Chat Completions API, or any server speaking it (a local model server):
//! `POST {base}/chat/completions`, with `Authorization: Bearer` when a key is configured. A
//! stream (`stream: true`, `stream_options.include_usage`) is `data:` chunks whose
//! `choices[0].delta` carries text and `tool_calls` pieces keyed by `index`, a last chunk with
//! `usage`, and `data: [DONE]`.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::ApiKey;
use super::limits::Prepared;
use super::provider::{self, Accumulated, Provider, ProviderError};
use super::sse::{Decoder, EventStream, SseEvent, Step};
use crate::agents::runtime::{LlmToolMessage, LlmToolResponse, LlmUsage};

/// An OpenAI-compatible endpoint.
pub struct OpenAi {
    client: reqwest::Client,
    url: String,
    key: Option<ApiKey>,
    model: String,
    timeout: Duration,
}

impl OpenAi {
    pub fn new(
        client: reqwest::Client,
        base: &url::Url,
        key: Option<ApiKey>,
        model: String,
        timeout: Duration,
    ) -> Self {
        OpenAi { client, url: provider::endpoint(base, "chat/completions"), key, model, timeout }
    }

    fn headers(&self) -> Result<HeaderMap, ProviderError> {
        let mut headers = HeaderMap::new();
        if let Some(key) = &self.key {
            let mut value = b"Bearer ".to_vec();
            value.extend_from_slice(key.expose());
            let mut value = HeaderValue::from_bytes(&value)
                .map_err(|_| ProviderError::permanent("the OpenAI API key is not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        Ok(headers)
    }

    fn body(&self, prepared: &Prepared, stream: bool) -> Value {
        let request = &prepared.request;
        let mut messages = Vec::new();
        if let Some(system) = &request.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        for message in &request.messages {
            push_message(&mut messages, message);
        }
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": prepared.max_tokens,
        });
        if let Some(temperature) = request.temperature {
            body["temperature"] = json!(temperature);
        }
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|tool| {
                    json!({"type": "function", "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": provider::json_object(&tool.input_schema),
                    }})
                })
                .collect();
        }
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }

    fn redact(&self, text: String) -> String {
        provider::redact(self.key.as_ref(), text)
    }
}

fn push_message(messages: &mut Vec<Value>, message: &LlmToolMessage) {
    match message {
        LlmToolMessage::User { content } => messages.push(json!({"role": "user", "content": content})),
        LlmToolMessage::Assistant { content, tool_calls } if tool_calls.is_empty() => {
            messages.push(json!({"role": "assistant", "content": content}));
        }
        LlmToolMessage::Assistant { content, tool_calls } => messages.push(json!({
            "role": "assistant",
            "content": if content.is_empty() { Value::Null } else { json!(content) },
            "tool_calls": tool_calls.iter().map(|call| json!({
                "id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            })).collect::<Vec<_>>(),
        })),
        // One `tool` message per result; the API has no field for a failure, so say it in the text.
        LlmToolMessage::ToolResults { results } => {
            for result in results {
                let content = if result.is_error {
                    format!("error: {}", result.content)
                } else {
                    result.content.clone()
                };
                messages.push(json!({"role": "tool", "tool_call_id": result.call_id, "content": content}));
            }
        }
    }
}

/// The gateway's name for a finish reason.
fn stop_reason(reason: &str) -> String {
    match reason {
        "stop" => "end".to_owned(),
        "length" => "max-tokens".to_owned(),
        "tool_calls" | "function_call" => "tool-use".to_owned(),
        other => other.replace('_', "-"),
    }
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    model: String,
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCall>>,
}

#[derive(Deserialize)]
struct ToolCall {
    id: String,
    function: Function,
}

#[derive(Deserialize)]
struct Function {
    name: String,
    #[serde(default)]
    arguments: String,
}

#[derive(Deserialize, Clone, Copy)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

#[async_trait]
impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn complete(&self, prepared: &Prepared) -> Result<LlmToolResponse, ProviderError> {
        let request = self.client.post(&self.url).headers(self.headers()?).json(&self.body(prepared, false));
        let response = provider::send(request, self.timeout, |text| self.redact(text)).await?;
        let body = provider::read_body(response, self.timeout).await?;
        let completion: Completion =
            serde_json::from_slice(&body).map_err(|error| ProviderError::malformed("answer", error))?;
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::permanent("the provider's answer has no choices"))?;
        let mut answer = Accumulated::default();
        answer.model = completion.model;
        answer.content = choice.message.content.unwrap_or_default();
        for (index, call) in (0u64..).zip(choice.message.tool_calls.unwrap_or_default()) {
            answer.start_call(index, Some(&call.id), Some(&call.function.name));
            answer.extend_arguments(index, &call.function.arguments);
        }
        answer.stop_reason = choice.finish_reason;
        if let Some(usage) = completion.usage {
            answer.usage =
                LlmUsage { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens };
        }
        answer.into_response(stop_reason)
    }

    async fn stream(&self, prepared: &Prepared) -> Result<EventStream, ProviderError> {
        let request = self.client.post(&self.url).headers(self.headers()?).json(&self.body(prepared, true));
        let response = provider::send(request, self.timeout, |text| self.redact(text)).await?;
        Ok(EventStream::new(response, Box::new(StreamDecoder), self.timeout))
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<ChunkDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    index: u64,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

struct StreamDecoder;

impl Decoder for StreamDecoder {
    fn event(&mut self, event: &SseEvent, answer: &mut Accumulated) -> Result<Step, ProviderError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(Step::Done);
        }
        if data.is_empty() {
            return Ok(Step::Continue);
        }
        let chunk: Chunk =
            serde_json::from_str(data).map_err(|error| ProviderError::malformed("stream chunk", error))?;
        if let Some(error) = chunk.error {
            let message = error["message"].as_str().unwrap_or("no explanation");
            return Err(ProviderError::permanent(format!("the provider's stream failed: {message}")));
        }
        if let Some(model) = chunk.model.filter(|model| !model.is_empty()) {
            answer.model = model;
        }
        if let Some(usage) = chunk.usage {
            answer.usage =
                LlmUsage { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens };
        }
        let mut text = String::new();
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(reason) = choice.finish_reason {
                answer.stop_reason = Some(reason);
            }
            if let Some(delta) = choice.delta {
                for call in delta.tool_calls.unwrap_or_default() {
                    let function = call.function.as_ref();
                    answer.start_call(
                        call.index,
                        call.id.as_deref(),
                        function.and_then(|f| f.name.as_deref()),
                    );
                    if let Some(arguments) = function.and_then(|f| f.arguments.as_deref()) {
                        answer.extend_arguments(call.index, arguments);
                    }
                }
                if let Some(content) = delta.content {
                    answer.content.push_str(&content);
                    text = content;
                }
            }
        }
        Ok(Step::Text(text))
    }

    fn stop_reason(&self, reason: &str) -> String {
        stop_reason(reason)
    }
}
