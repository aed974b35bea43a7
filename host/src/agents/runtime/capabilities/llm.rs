//! `vibe:agent/llm`: completions through the platform's LLM gateway. The gateway is a trait,
//! [`LlmGateway`] (issue 5 implements the real one: providers, fallback, billing to the session,
//! rate limits); this module checks the `llm` grant, passes who is calling ([`LlmCallInfo`]) and
//! exposes streams to components as the `completion-stream` resource. [`NoLlmProvider`] is the
//! gateway of guided mode: every call answers `not-configured`. Tool use has its types in
//! `llm_tools.rs`; the real gateway lives in `crate::llm`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wasmtime::component::Resource;

use super::CallShared;
use super::llm_tools::{LlmToolRequest, LlmToolResponse};
use crate::agents::runtime::bindings::llm as wit;
use crate::agents::runtime::state::CallState;
use crate::agents::runtime::types::Capability;

/// Who a completion is for: the gateway bills the session (its idea's owner pays) and
/// rate-limits per paying user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmCallInfo {
    pub session_id: Uuid,
    pub idea_id: Uuid,
    pub plugin_name: String,
    pub plugin_version: String,
}

/// Who says a message of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LlmRole {
    User,
    Assistant,
}

/// One message of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmMessage {
    pub role: LlmRole,
    pub content: String,
}

/// A completion request (`vibe:agent/llm.request`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmRequest {
    #[serde(default)]
    pub system: Option<String>,
    pub messages: Vec<LlmMessage>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub model: Option<String>,
}

/// Tokens a completion used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmUsage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

/// A finished completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmResponse {
    pub content: String,
    pub model: String,
    pub usage: LlmUsage,
    pub stop_reason: String,
}

/// Why a completion failed (`vibe:agent/llm.error`; in JSON `{"kind": ..., "message": ...}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum LlmError {
    #[error("no LLM provider configured: {0}")]
    NotConfigured(String),
    #[error("denied: {0}")]
    Denied(String),
    #[error("rate limited: {0}")]
    RateLimited(String),
    #[error("insufficient credits: {0}")]
    InsufficientCredits(String),
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("provider failed: {0}")]
    Provider(String),
}

/// A completion arriving piece by piece.
#[async_trait]
pub trait LlmStream: Send {
    /// The next piece of text, `None` at the end.
    async fn next(&mut self) -> Result<Option<String>, LlmError>;
    /// Reads the rest and returns the whole completion.
    async fn finish(&mut self) -> Result<LlmResponse, LlmError>;

    /// Reads the rest and returns the whole completion with the tool calls it asks for. The
    /// default is for streams that never carry tool calls.
    async fn finish_with_tools(&mut self) -> Result<LlmToolResponse, LlmError> {
        let response = self.finish().await?;
        Ok(LlmToolResponse {
            content: response.content,
            tool_calls: Vec::new(),
            model: response.model,
            usage: response.usage,
            stop_reason: response.stop_reason,
        })
    }
}

/// The platform's LLM gateway, as agents reach it.
#[async_trait]
pub trait LlmGateway: Send + Sync {
    /// Whether a provider is configured; `false` means guided mode (every call answers
    /// `not-configured`), which the API and events announce.
    fn configured(&self) -> bool {
        true
    }

    /// Completes `request` for `call`.
    async fn complete(&self, call: &LlmCallInfo, request: LlmRequest) -> Result<LlmResponse, LlmError>;

    /// Starts completing `request`. The default completes it at once and streams the answer as
    /// one piece, for providers that do not stream.
    async fn stream(&self, call: &LlmCallInfo, request: LlmRequest) -> Result<Box<dyn LlmStream>, LlmError> {
        let response = self.complete(call, request).await?;
        Ok(Box::new(WholeResponse { response, sent: false }))
    }

    /// Completes `request`, which offers tools. The default refuses: a gateway without tool use.
    async fn complete_with_tools(
        &self,
        _call: &LlmCallInfo,
        _request: LlmToolRequest,
    ) -> Result<LlmToolResponse, LlmError> {
        Err(LlmError::Provider("this LLM gateway does not offer tool use".to_owned()))
    }

    /// Starts completing `request`, which offers tools; [`LlmStream::finish_with_tools`] gives
    /// the tool calls. The default completes at once and streams the text as one piece.
    async fn stream_with_tools(
        &self,
        call: &LlmCallInfo,
        request: LlmToolRequest,
    ) -> Result<Box<dyn LlmStream>, LlmError> {
        let response = self.complete_with_tools(call, request).await?;
        Ok(Box::new(WholeToolResponse { response, sent: false }))
    }
}

/// A stream of one already complete response with tool calls.
struct WholeToolResponse {
    response: LlmToolResponse,
    sent: bool,
}

#[async_trait]
impl LlmStream for WholeToolResponse {
    async fn next(&mut self) -> Result<Option<String>, LlmError> {
        if std::mem::replace(&mut self.sent, true) {
            Ok(None)
        } else {
            Ok(Some(self.response.content.clone()))
        }
    }

    async fn finish(&mut self) -> Result<LlmResponse, LlmError> {
        self.sent = true;
        Ok(self.response.clone().into())
    }

    async fn finish_with_tools(&mut self) -> Result<LlmToolResponse, LlmError> {
        self.sent = true;
        Ok(self.response.clone())
    }
}

/// A stream of one already complete response.
struct WholeResponse {
    response: LlmResponse,
    sent: bool,
}

#[async_trait]
impl LlmStream for WholeResponse {
    async fn next(&mut self) -> Result<Option<String>, LlmError> {
        if std::mem::replace(&mut self.sent, true) {
            Ok(None)
        } else {
            Ok(Some(self.response.content.clone()))
        }
    }

    async fn finish(&mut self) -> Result<LlmResponse, LlmError> {
        self.sent = true;
        Ok(self.response.clone())
    }
}

/// Guided mode's gateway: no provider is configured, so every completion fails with
/// `not-configured` and agents take their deterministic path.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLlmProvider;

#[async_trait]
impl LlmGateway for NoLlmProvider {
    fn configured(&self) -> bool {
        false
    }

    async fn complete(&self, _call: &LlmCallInfo, _request: LlmRequest) -> Result<LlmResponse, LlmError> {
        Err(guided_mode())
    }

    async fn complete_with_tools(
        &self,
        _call: &LlmCallInfo,
        _request: LlmToolRequest,
    ) -> Result<LlmToolResponse, LlmError> {
        Err(guided_mode())
    }
}

fn guided_mode() -> LlmError {
    LlmError::NotConfigured(
        "no LLM provider is configured on this server (guided mode); set one up to converse freely"
            .to_owned(),
    )
}

impl CallShared {
    fn llm_call_info(&self) -> LlmCallInfo {
        LlmCallInfo {
            session_id: self.session_id,
            idea_id: self.idea_id,
            plugin_name: self.plugin_name.clone(),
            plugin_version: self.plugin_version.clone(),
        }
    }

    fn require_llm(&self) -> Result<(), LlmError> {
        self.require(Capability::Llm).map_err(|error| match error {
            super::CapError::Denied(message) => LlmError::Denied(message),
            other => LlmError::Provider(other.to_string()),
        })
    }

    pub(crate) async fn llm_complete(&self, request: LlmRequest) -> Result<LlmResponse, LlmError> {
        self.require_llm()?;
        let services = self.services().map_err(|error| LlmError::Provider(error.to_string()))?;
        services.llm.complete(&self.llm_call_info(), request).await
    }

    pub(crate) async fn llm_stream(&self, request: LlmRequest) -> Result<Box<dyn LlmStream>, LlmError> {
        self.require_llm()?;
        let services = self.services().map_err(|error| LlmError::Provider(error.to_string()))?;
        services.llm.stream(&self.llm_call_info(), request).await
    }

    pub(crate) async fn llm_complete_with_tools(
        &self,
        request: LlmToolRequest,
    ) -> Result<LlmToolResponse, LlmError> {
        self.require_llm()?;
        let services = self.services().map_err(|error| LlmError::Provider(error.to_string()))?;
        services.llm.complete_with_tools(&self.llm_call_info(), request).await
    }
}

/// The host side of a component's `completion-stream` resource.
pub struct CompletionStream(Box<dyn LlmStream>);

impl From<wit::Request> for LlmRequest {
    fn from(request: wit::Request) -> Self {
        LlmRequest {
            system: request.system,
            messages: request
                .messages
                .into_iter()
                .map(|message| LlmMessage {
                    role: match message.role {
                        wit::LlmRole::User => LlmRole::User,
                        wit::LlmRole::Assistant => LlmRole::Assistant,
                    },
                    content: message.content,
                })
                .collect(),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            model: request.model,
        }
    }
}

impl From<LlmResponse> for wit::Response {
    fn from(response: LlmResponse) -> Self {
        wit::Response {
            content: response.content,
            model: response.model,
            usage: wit::Usage {
                input_tokens: response.usage.input_tokens,
                output_tokens: response.usage.output_tokens,
            },
            stop_reason: response.stop_reason,
        }
    }
}

impl From<LlmError> for wit::Error {
    fn from(error: LlmError) -> Self {
        match error {
            LlmError::NotConfigured(message) => wit::Error::NotConfigured(message),
            LlmError::Denied(message) => wit::Error::Denied(message),
            LlmError::RateLimited(message) => wit::Error::RateLimited(message),
            LlmError::InsufficientCredits(message) => wit::Error::InsufficientCredits(message),
            LlmError::TooLarge(message) => wit::Error::TooLarge(message),
            LlmError::Provider(message) => wit::Error::Provider(message),
        }
    }
}

impl wit::Host for CallState {
    async fn complete(
        &mut self,
        request: wit::Request,
    ) -> wasmtime::Result<Result<wit::Response, wit::Error>> {
        Ok(self.call.llm_complete(request.into()).await.map(Into::into).map_err(Into::into))
    }

    async fn stream(
        &mut self,
        request: wit::Request,
    ) -> wasmtime::Result<Result<Resource<CompletionStream>, wit::Error>> {
        match self.call.llm_stream(request.into()).await {
            Ok(stream) => Ok(Ok(self.table.push(CompletionStream(stream))?)),
            Err(error) => Ok(Err(error.into())),
        }
    }

    async fn complete_with_tools(
        &mut self,
        request: wit::ToolRequest,
    ) -> wasmtime::Result<Result<wit::ToolResponse, wit::Error>> {
        Ok(self.call.llm_complete_with_tools(request.into()).await.map(Into::into).map_err(Into::into))
    }
}

impl wit::HostCompletionStream for CallState {
    async fn next(
        &mut self,
        stream: Resource<CompletionStream>,
    ) -> wasmtime::Result<Result<Option<String>, wit::Error>> {
        Ok(self.table.get_mut(&stream)?.0.next().await.map_err(Into::into))
    }

    async fn finish(
        &mut self,
        stream: Resource<CompletionStream>,
    ) -> wasmtime::Result<Result<wit::Response, wit::Error>> {
        Ok(self.table.get_mut(&stream)?.0.finish().await.map(Into::into).map_err(Into::into))
    }

    async fn drop(&mut self, stream: Resource<CompletionStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}
