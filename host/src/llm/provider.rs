//! What every provider backend offers the gateway ([`Provider`]), how a provider call fails
//! ([`ProviderError`], which says whether another try may help), and the accumulation of a
//! streamed answer ([`Accumulated`]) that both wire formats share.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::config::ApiKey;
use super::limits::Prepared;
use super::sse::EventStream;
use crate::agents::runtime::{LlmToolCall, LlmToolResponse, LlmUsage};

/// Whether a failed call is worth another try, here or at the next provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// 429, 5xx, a connection error or a timeout: retry with backoff, then fall back.
    Transient {
        /// The provider's `retry-after`, when it sent one.
        after: Option<Duration>,
        /// The provider said it is over its rate limit (429).
        rate_limited: bool,
    },
    /// The request was refused (a 4xx other than 429) or the answer cannot be understood:
    /// another try would fail the same way.
    Never,
}

/// A failed provider call. The message never holds an API key (providers redact theirs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderError {
    pub retry: Retry,
    pub message: String,
}

impl ProviderError {
    /// A failure another try may cure.
    pub fn transient(message: impl Into<String>) -> Self {
        ProviderError {
            retry: Retry::Transient { after: None, rate_limited: false },
            message: message.into(),
        }
    }

    /// A failure another try would repeat.
    pub fn permanent(message: impl Into<String>) -> Self {
        ProviderError { retry: Retry::Never, message: message.into() }
    }

    /// An answer that does not follow the provider's wire format.
    pub fn malformed(what: &str, error: impl std::fmt::Display) -> Self {
        Self::permanent(format!("the provider's {what} is malformed: {error}"))
    }

    /// An HTTP status other than success, with the provider's own explanation.
    pub fn status(status: reqwest::StatusCode, retry_after: Option<Duration>, explanation: &str) -> Self {
        let message = format!("HTTP {}: {}", status.as_u16(), explanation);
        let retry = if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Retry::Transient { after: retry_after, rate_limited: true }
        } else if status.is_server_error() {
            Retry::Transient { after: retry_after, rate_limited: false }
        } else {
            Retry::Never
        };
        ProviderError { retry, message }
    }

    /// A transport failure: connection refused or reset, a timeout.
    pub fn transport(error: &reqwest::Error) -> Self {
        // reqwest's message names the URL (never a header), which is safe to show.
        Self::transient(format!("the request failed: {}", without_url(error)))
    }

    /// The provider did not answer within the gateway's timeout.
    pub fn timeout(after: Duration) -> Self {
        Self::transient(format!("no answer within {} s", after.as_secs_f32()))
    }
}

/// A reqwest error's text without the URL (keeps messages short and the same for every try).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" ({url})"), "").replace(url.as_str(), "the provider");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A provider backend (one wire format, one endpoint, one key).
#[async_trait]
pub trait Provider: Send + Sync {
    /// Its name in configuration, records and messages (`anthropic`, `openai`).
    fn name(&self) -> &'static str;

    /// The model it asks for.
    fn model(&self) -> &str;

    /// Completes `request` in one JSON exchange.
    async fn complete(&self, request: &Prepared) -> Result<LlmToolResponse, ProviderError>;

    /// Starts a streamed completion of `request`: `Ok` once the provider answered with success
    /// headers, so that failures before any text can still fall back.
    async fn stream(&self, request: &Prepared) -> Result<EventStream, ProviderError>;
}

/// A tool call being streamed: its arguments arrive in pieces.
#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// A streamed answer so far.
#[derive(Debug, Default)]
pub struct Accumulated {
    pub content: String,
    calls: BTreeMap<u64, PartialCall>,
    pub model: String,
    pub usage: LlmUsage,
    pub stop_reason: Option<String>,
}

impl Accumulated {
    /// Starts (or names) the tool call at `index`.
    pub fn start_call(&mut self, index: u64, id: Option<&str>, name: Option<&str>) {
        let call = self.calls.entry(index).or_default();
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            id.clone_into(&mut call.id);
        }
        if let Some(name) = name.filter(|name| !name.is_empty()) {
            call.name.push_str(name);
        }
    }

    /// Appends a piece of the arguments of the tool call at `index`.
    pub fn extend_arguments(&mut self, index: u64, piece: &str) {
        self.calls.entry(index).or_default().arguments.push_str(piece);
    }

    /// Whether a tool call at `index` was started.
    pub fn has_call(&self, index: u64) -> bool {
        self.calls.contains_key(&index)
    }

    /// Checks the tool call at `index` is whole: an id, a name and arguments that are a JSON object.
    pub fn check_call(&self, index: u64) -> Result<(), ProviderError> {
        let Some(call) = self.calls.get(&index) else { return Ok(()) };
        whole_call(call).map(|_| ())
    }

    /// The tokens used so far; output estimated from the text when the provider has not said.
    pub fn usage_so_far(&self) -> LlmUsage {
        let mut usage = self.usage;
        if usage.output_tokens == 0 {
            let streamed =
                self.content.len() + self.calls.values().map(|call| call.arguments.len()).sum::<usize>();
            usage.output_tokens = estimate_tokens(streamed);
        }
        usage
    }

    /// The whole answer, once the stream said it is complete. A tool call left broken (no id or
    /// name, arguments that are not a JSON object) fails it.
    pub fn into_response(
        self,
        stop_reason: impl Fn(&str) -> String,
    ) -> Result<LlmToolResponse, ProviderError> {
        let tool_calls = self.calls.values().map(whole_call).collect::<Result<Vec<_>, _>>()?;
        let stop_reason = match (&self.stop_reason, tool_calls.is_empty()) {
            (Some(reason), _) => stop_reason(reason),
            (None, false) => "tool-use".to_owned(),
            (None, true) => "end".to_owned(),
        };
        Ok(LlmToolResponse {
            content: self.content,
            tool_calls,
            model: self.model,
            usage: self.usage,
            stop_reason,
        })
    }
}

fn whole_call(call: &PartialCall) -> Result<LlmToolCall, ProviderError> {
    if call.id.is_empty() || call.name.is_empty() {
        return Err(ProviderError::permanent("the provider streamed a tool call without an id or a name"));
    }
    let arguments = if call.arguments.trim().is_empty() { "{}" } else { call.arguments.as_str() };
    match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(serde_json::Value::Object(_)) => {
            Ok(LlmToolCall { id: call.id.clone(), name: call.name.clone(), arguments: arguments.to_owned() })
        }
        Ok(_) => Err(ProviderError::permanent(format!(
            "the provider's call of tool `{}` has arguments that are not a JSON object",
            call.name
        ))),
        Err(error) => Err(ProviderError::permanent(format!(
            "the provider's call of tool `{}` has broken arguments: {error}",
            call.name
        ))),
    }
}

/// A rough token count of `bytes` of text, rounding up (about four bytes a token in English).
pub fn estimate_tokens(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(4)).unwrap_or(u32::MAX)
}

/// The provider's explanation in an error body (`{"error": {"message": ..}}`, the shape both
/// APIs use), else the start of the body.
pub fn explanation(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = parsed.as_ref().and_then(|value| value["error"]["message"].as_str().map(str::to_owned));
    let text = message.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(no explanation)".to_owned(),
        None => text.to_owned(),
    }
}

/// The `retry-after` of a response, in seconds (the HTTP-date form is not used by these APIs).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The most bytes of a provider's answer read in one piece (JSON answers, error bodies).
const MAX_BODY_BYTES: usize = 8 << 20;

/// Sends `request`, waiting at most `timeout` for the answer's headers; a status other than
/// success becomes the matching [`ProviderError`], with the provider's explanation (`redact`
/// removes the key, should a provider echo it).
pub async fn send(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    redact: impl Fn(String) -> String,
) -> Result<reqwest::Response, ProviderError> {
    let response = tokio::time::timeout(timeout, request.send())
        .await
        .map_err(|_| ProviderError::timeout(timeout))?
        .map_err(|error| ProviderError::transport(&error))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let after = retry_after(response.headers());
    let body = read_body(response, timeout).await.unwrap_or_default();
    Err(ProviderError::status(status, after, &redact(explanation(&body))))
}

/// Reads a whole answer (at most 8 MiB) within `timeout`.
pub async fn read_body(mut response: reqwest::Response, timeout: Duration) -> Result<Vec<u8>, ProviderError> {
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| ProviderError::transport(&error))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ProviderError::permanent("the provider's answer is over 8 MiB"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| ProviderError::timeout(timeout))?
}

/// `text` with every occurrence of `key` replaced.
pub fn redact(key: Option<&ApiKey>, text: String) -> String {
    match key.and_then(|key| std::str::from_utf8(key.expose()).ok()) {
        Some(key) if text.contains(key) => text.replace(key, "[redacted]"),
        _ => text,
    }
}

/// The API's endpoint `path` under `base` (whatever its trailing slash).
pub fn endpoint(base: &url::Url, path: &str) -> String {
    format!("{}/{}", base.as_str().trim_end_matches('/'), path.trim_start_matches('/'))
}

/// A tool call's or schema's JSON text as a value (checked to be an object by the limits).
pub fn json_object(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::json!({}))
}
