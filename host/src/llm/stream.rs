//! A completion streamed to an agent through the gateway: text as the provider sends it, the
//! whole answer (tool calls included) at the end, and the call billed once, whichever way it
//! ends. Once text has reached the agent there is no falling back: a failure mid-stream is
//! reported, and billed for the tokens already used. A stream the agent drops unread is
//! billed the same way, from a background task.

use std::time::Instant;

use async_trait::async_trait;

use super::billing::{Billing, Reservation, Settlement};
use super::provider::{ProviderError, estimate_tokens};
use super::sse::EventStream;
use crate::agents::runtime::{LlmError, LlmResponse, LlmStream, LlmToolResponse, LlmUsage};

/// The gateway's side of a streamed completion.
pub struct GatewayStream {
    events: EventStream,
    provider: &'static str,
    model: String,
    billing: Billing,
    /// `Some` until the call is settled.
    reservation: Option<Reservation>,
    started: Instant,
    request_bytes: usize,
    failed: Option<LlmError>,
    response: Option<LlmToolResponse>,
}

impl GatewayStream {
    pub fn new(
        events: EventStream,
        provider: &'static str,
        model: String,
        billing: Billing,
        reservation: Reservation,
        started: Instant,
        request_bytes: usize,
    ) -> Self {
        GatewayStream {
            events,
            provider,
            model,
            billing,
            reservation: Some(reservation),
            started,
            request_bytes,
            failed: None,
            response: None,
        }
    }

    fn settlement(&self, usage: LlmUsage, error: Option<String>) -> Settlement {
        Settlement {
            provider: Some(self.provider),
            model: Some(self.model.clone()),
            usage,
            error,
            latency: self.started.elapsed(),
        }
    }

    async fn settle(&mut self, settlement: Settlement) -> Result<(), LlmError> {
        match self.reservation.take() {
            Some(reservation) => self.billing.settle(&reservation, &settlement).await.map(|_| ()),
            None => Ok(()),
        }
    }

    async fn fail(&mut self, error: ProviderError) -> LlmError {
        let error = LlmError::Provider(format!("{}: {}", self.provider, error.message));
        let settlement = self.settlement(self.events.usage_so_far(), Some(error.to_string()));
        if let Err(billing) = self.settle(settlement).await {
            tracing::error!(error = %billing, "a failed LLM stream could not be billed");
        }
        self.failed = Some(error.clone());
        error
    }
}

#[async_trait]
impl LlmStream for GatewayStream {
    async fn next(&mut self) -> Result<Option<String>, LlmError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.response.is_some() {
            return Ok(None);
        }
        match self.events.next_text().await {
            Ok(Some(text)) => Ok(Some(text)),
            Ok(None) => match self.events.take_response() {
                Ok(mut response) => {
                    if response.usage == LlmUsage::default() {
                        response.usage = LlmUsage {
                            input_tokens: estimate_tokens(self.request_bytes),
                            output_tokens: estimate_tokens(response.content.len()),
                        };
                    }
                    if !response.model.is_empty() {
                        self.model.clone_from(&response.model);
                    }
                    self.settle(self.settlement(response.usage, None)).await?;
                    self.response = Some(response);
                    Ok(None)
                }
                Err(error) => Err(self.fail(error).await),
            },
            Err(error) => Err(self.fail(error).await),
        }
    }

    async fn finish(&mut self) -> Result<LlmResponse, LlmError> {
        self.finish_with_tools().await.map(Into::into)
    }

    async fn finish_with_tools(&mut self) -> Result<LlmToolResponse, LlmError> {
        while self.next().await?.is_some() {}
        self.response
            .clone()
            .ok_or_else(|| LlmError::Provider("the stream ended without an answer".to_owned()))
    }
}

impl Drop for GatewayStream {
    fn drop(&mut self) {
        let Some(reservation) = self.reservation.take() else { return };
        let usage = self.events.usage_so_far();
        let settlement = self.settlement(usage, Some("the agent stopped reading the stream".to_owned()));
        let billing = self.billing.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(error) = billing.settle(&reservation, &settlement).await {
                        tracing::error!(error = %error, "an abandoned LLM stream could not be billed");
                    }
                });
            }
            Err(_) => {
                tracing::error!(call = %reservation.call_id, "an abandoned LLM stream could not be billed")
            }
        }
    }
}
