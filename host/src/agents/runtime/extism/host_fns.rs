//! The host functions of Extism plugins: the agent capabilities, JSON in and out. Each takes one
//! JSON document and returns `{"ok": <value>}` or `{"error": {"kind": .., "message": ..}}` (the
//! kinds of `vibe:agent/types.error`, or of `llm.error` for the `vibe_llm_*` functions):
//!
//! | function | input | ok |
//! |---|---|---|
//! | `vibe_kv_get` | `{"key"}` | bytes as a JSON array, or null |
//! | `vibe_kv_set` | `{"key", "value": [bytes]}` | null |
//! | `vibe_kv_delete` | `{"key"}` | null |
//! | `vibe_kv_list_keys` | `{"prefix"}` | `["key", ..]` |
//! | `vibe_pipeline_get` | `{"name"}` | an artifact, or null |
//! | `vibe_pipeline_list` | `{}` | `[{"name","content_type","version"}]` |
//! | `vibe_pipeline_put` | `{"name","content_type","content","expected_version"?}` | the new version |
//! | `vibe_events_thinking` | `{"text"}` | null |
//! | `vibe_events_tool_call` | `{"name","input","output"}` | null |
//! | `vibe_llm_complete` | an LLM request | an LLM response |
//! | `vibe_llm_complete_with_tools` | an LLM tool request | an LLM tool response |
//! | `vibe_log` | `{"level","message"}` | null |
//! | `vibe_http_request` | `{"method"?,"url","headers"?,"body"?}` | `{"status","headers","body"}` |
//!
//! A host function fails (a trap) only when the plugin's memory cannot be read or written.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, LazyLock};

use extism::{CurrentPlugin, Function, PTR, UserData, Val};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ExtismCall;
use crate::agents::runtime::capabilities::llm::LlmRequest;
use crate::agents::runtime::capabilities::llm_tools::LlmToolRequest;
use crate::agents::runtime::capabilities::log::{LogLevel, LogSource, truncate};
use crate::agents::runtime::capabilities::{CallShared, CapError};
use crate::agents::runtime::types::{ArtifactWrite, Capability, ContentType, ToolCall};

/// The largest HTTP response body handed to a plugin.
const MAX_HTTP_BODY_BYTES: usize = 4 << 20;

#[derive(Deserialize)]
struct Key {
    key: String,
}

#[derive(Deserialize)]
struct KeyValue {
    key: String,
    value: Vec<u8>,
}

#[derive(Deserialize)]
struct Prefix {
    #[serde(default)]
    prefix: String,
}

#[derive(Deserialize)]
struct Name {
    name: String,
}

#[derive(Deserialize)]
struct Nothing {}

#[derive(Deserialize)]
struct Put {
    name: String,
    content_type: ContentType,
    content: String,
    #[serde(default)]
    expected_version: Option<u32>,
}

#[derive(Deserialize)]
struct Text {
    text: String,
}

#[derive(Deserialize)]
struct LogLine {
    level: LogLevel,
    message: String,
}

#[derive(Deserialize)]
struct HttpRequest {
    #[serde(default)]
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Serialize)]
struct HttpResponse {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

/// Every host function an Extism agent may import.
pub(super) fn functions() -> Vec<Function> {
    vec![
        function("vibe_kv_get", |call, Key { key }| async move { call.kv_get(&key).await }),
        function(
            "vibe_kv_set",
            |call, KeyValue { key, value }| async move { call.kv_set(&key, &value).await },
        ),
        function("vibe_kv_delete", |call, Key { key }| async move { call.kv_delete(&key).await }),
        function(
            "vibe_kv_list_keys",
            |call, Prefix { prefix }| async move { call.kv_list_keys(&prefix).await },
        ),
        function("vibe_pipeline_get", |call, Name { name }| async move { call.pipeline_get(&name).await }),
        function("vibe_pipeline_list", |call, Nothing {}| async move { call.pipeline_list().await }),
        function("vibe_pipeline_put", |call, put: Put| async move {
            let artifact =
                ArtifactWrite { name: put.name, content_type: put.content_type, content: put.content };
            call.pipeline_put(&artifact, put.expected_version).await
        }),
        function(
            "vibe_events_thinking",
            |call, Text { text }| async move { call.events_thinking(&text).await },
        ),
        function("vibe_events_tool_call", |call, tool: ToolCall| async move {
            call.events_tool_call(&tool).await
        }),
        function(
            "vibe_llm_complete",
            |call, request: LlmRequest| async move { call.llm_complete(request).await },
        ),
        function("vibe_llm_complete_with_tools", |call, request: LlmToolRequest| async move {
            call.llm_complete_with_tools(request).await
        }),
        function("vibe_log", |call, LogLine { level, message }| async move {
            call.require(Capability::Log)?;
            call.log(LogSource::Plugin, level, &message);
            Ok::<_, CapError>(())
        }),
        function("vibe_http_request", |call, request: HttpRequest| async move {
            http_request(&call, request).await
        }),
    ]
}

/// A host function `name` that decodes its JSON input, runs `op` on the call's runtime (within
/// its deadline) and encodes the outcome.
fn function<Req, Res, Err, Op, Fut>(name: &str, op: Op) -> Function
where
    Req: DeserializeOwned,
    Res: Serialize,
    Err: Serialize + From<CapError>,
    Op: Fn(Arc<CallShared>, Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Res, Err>>,
{
    let label = name.to_owned();
    Function::new(
        name,
        [PTR],
        [PTR],
        UserData::new(()),
        move |plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val], _| {
            let context = plugin.host_context::<ExtismCall>()?.clone();
            let input = match inputs.first() {
                Some(value) => plugin.memory_get_val::<&[u8]>(value)?.to_vec(),
                None => Vec::new(),
            };
            let reply = match serde_json::from_slice::<Req>(&input) {
                Err(error) => {
                    let error =
                        CapError::Invalid(format!("{label}: the input is not what it takes: {error}"));
                    json!({ "error": Err::from(error) })
                }
                Ok(request) => {
                    let work = op(context.call.clone(), request);
                    let outcome = context.handle.block_on(tokio::time::timeout_at(context.deadline, work));
                    match outcome {
                        Ok(Ok(value)) => json!({ "ok": value }),
                        Ok(Err(error)) => json!({ "error": error }),
                        Err(_) => {
                            json!({ "error": Err::from(CapError::Unavailable("the turn's deadline passed".to_owned())) })
                        }
                    }
                }
            };
            let bytes = serde_json::to_vec(&reply)?;
            match outputs.first_mut() {
                Some(output) => plugin.memory_set_val(output, bytes),
                None => Ok(()),
            }
        },
    )
}

impl From<CapError> for crate::agents::runtime::capabilities::llm::LlmError {
    fn from(error: CapError) -> Self {
        match error {
            CapError::Denied(message) => Self::Denied(message),
            CapError::TooLarge(message) => Self::TooLarge(message),
            other => Self::Provider(other.to_string()),
        }
    }
}

/// The HTTP client of Extism plugins' requests: it never follows redirects (a redirect could
/// lead to a host that was not approved).
static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default()
});

async fn http_request(call: &CallShared, request: HttpRequest) -> Result<HttpResponse, CapError> {
    let url =
        url::Url::parse(&request.url).map_err(|error| CapError::Invalid(format!("bad url: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CapError::Invalid("only http and https URLs".to_owned()));
    }
    let port = url.port_or_known_default().unwrap_or(80);
    if !call.outbound_allowed(url.host_str(), port) {
        return Err(CapError::Denied(format!(
            "outbound requests to {} are not allowed for this plugin",
            url.host_str().unwrap_or("(no host)")
        )));
    }
    let method = reqwest::Method::from_bytes(
        request.method.as_deref().unwrap_or("GET").to_ascii_uppercase().as_bytes(),
    )
    .map_err(|_| CapError::Invalid("bad method".to_owned()))?;
    let mut builder = HTTP.request(method, url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = request.body {
        builder = builder.body(body);
    }
    let mut response =
        builder.send().await.map_err(|error| CapError::Unavailable(format!("request failed: {error}")))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|error| CapError::Unavailable(format!("response failed: {error}")))?
    {
        if body.len() + chunk.len() > MAX_HTTP_BODY_BYTES {
            return Err(CapError::TooLarge(format!("responses are at most {MAX_HTTP_BODY_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    let body = truncate(&String::from_utf8_lossy(&body), MAX_HTTP_BODY_BYTES).to_owned();
    Ok(HttpResponse { status, headers, body })
}
