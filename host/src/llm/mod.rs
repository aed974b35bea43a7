//! The LLM gateway: the only way agents reach a model (through the `llm` capability, which calls
//! [`LlmGateway`]). Each call goes through the same steps:
//!
//! 1. limits (`limits.rs`): size, `max_tokens` capped, tools well formed;
//! 2. the user who pays (the owner of the session's idea) and their rate limit (`rate_limit.rs`);
//! 3. the credit reservation through the ledger (`billing.rs`), before any provider is asked;
//! 4. the providers in order, with retries and fallback (`fallback.rs`), each speaking its wire
//!    format (`anthropic.rs`, `openai.rs`, streams through `sse.rs`);
//! 5. the bill: the reservation settled with the real cost (released when no provider answered),
//!    and the `llm_calls` record (`billing.rs`; for streams, `stream.rs`).
//!
//! With no provider configured, [`gateway`] gives [`NoLlmProvider`] (guided mode).

pub mod anthropic;
pub mod billing;
pub mod config;
pub mod fallback;
pub mod limits;
pub mod openai;
pub mod provider;
pub mod rate_limit;
pub mod sse;
pub mod stream;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use self::anthropic::Anthropic;
use self::billing::{Billing, Prices, Reservation, Settlement};
use self::config::{LlmConfig, OPENAI_DEFAULT_BASE_URL, ProviderKind};
use self::fallback::RetryPolicy;
use self::limits::{Prepared, RequestLimits};
use self::openai::OpenAi;
use self::provider::{Provider, estimate_tokens};
use self::rate_limit::UserRateLimits;
use self::stream::GatewayStream;
use crate::agents::runtime::{
    LlmCallInfo, LlmError, LlmGateway, LlmRequest, LlmResponse, LlmStream, LlmToolRequest, LlmToolResponse,
    LlmUsage, NoLlmProvider,
};
use crate::ledger::Ledger;

/// The gateway `config` describes: [`Gateway`] with the configured providers, or
/// [`NoLlmProvider`] when there are none. Calls are billed through `ledger`.
pub fn gateway(config: &LlmConfig, ledger: Ledger) -> anyhow::Result<Arc<dyn LlmGateway>> {
    match Gateway::from_config(config, ledger)? {
        Some(gateway) => Ok(Arc::new(gateway)),
        None => Ok(Arc::new(NoLlmProvider)),
    }
}

/// The gateway over one or more providers.
pub struct Gateway {
    providers: Vec<Arc<dyn Provider>>,
    retry: RetryPolicy,
    limits: RequestLimits,
    billing: Billing,
    rate: UserRateLimits,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let providers: Vec<_> = self.providers.iter().map(|provider| provider.name()).collect();
        f.debug_struct("Gateway").field("providers", &providers).finish_non_exhaustive()
    }
}

impl Gateway {
    /// The gateway `config` describes, billing through `ledger`; `None` when no provider is configured.
    pub fn from_config(config: &LlmConfig, ledger: Ledger) -> anyhow::Result<Option<Gateway>> {
        let order = config.provider_order()?;
        if order.is_empty() {
            return Ok(None);
        }
        let timeout = Duration::from_secs(config.llm_timeout_secs.max(1));
        let client = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut providers: Vec<Arc<dyn Provider>> = Vec::new();
        for kind in order {
            match kind {
                ProviderKind::Anthropic => {
                    let Some(key) = config.anthropic_api_key.clone() else { continue };
                    providers.push(Arc::new(Anthropic::new(
                        client.clone(),
                        &config.anthropic_base_url,
                        key,
                        config.anthropic_model.clone(),
                        timeout,
                    )));
                }
                ProviderKind::Openai => {
                    let base = match &config.openai_base_url {
                        Some(base) => base.clone(),
                        None => url::Url::parse(OPENAI_DEFAULT_BASE_URL)?,
                    };
                    providers.push(Arc::new(OpenAi::new(
                        client.clone(),
                        &base,
                        config.openai_api_key.clone(),
                        config.openai_model.clone(),
                        timeout,
                    )));
                }
            }
        }
        let prices = Prices {
            per_1k_input: config.llm_credits_per_1k_input,
            per_1k_output: config.llm_credits_per_1k_output,
        };
        Ok(Some(Gateway {
            providers,
            retry: RetryPolicy { max_retries: config.llm_max_retries },
            limits: RequestLimits {
                max_request_bytes: config.llm_max_request_bytes,
                max_tokens: config.llm_max_tokens.max(1),
            },
            billing: Billing::new(ledger, prices),
            rate: UserRateLimits::new(config.llm_rate_per_minute),
        }))
    }

    /// The names of the providers, in the order they are tried.
    pub fn provider_names(&self) -> Vec<&'static str> {
        self.providers.iter().map(|provider| provider.name()).collect()
    }

    /// Steps 1 to 3: limits, rate limit, credit reservation.
    async fn admit(
        &self,
        call: &LlmCallInfo,
        request: LlmToolRequest,
        streamed: bool,
    ) -> Result<(Prepared, Reservation), LlmError> {
        let prepared = self.limits.prepare(request)?;
        let user_id = self.billing.owner(call).await?;
        self.rate.check(user_id)?;
        // The ceiling counts two bytes a token of input (text in most scripts takes fewer tokens)
        // and every token `max_tokens` allows.
        let ceiling = self.billing.prices().cost(LlmUsage {
            input_tokens: u32::try_from(prepared.bytes.div_ceil(2)).unwrap_or(u32::MAX),
            output_tokens: prepared.max_tokens,
        });
        let reservation = self.billing.reserve(call, user_id, ceiling, streamed).await?;
        Ok((prepared, reservation))
    }

    /// Ends a call that did not get going (every provider failed): its credits are released.
    async fn settle_failure(&self, reservation: &Reservation, error: &LlmError, started: Instant) {
        let settlement = Settlement {
            provider: None,
            model: None,
            usage: LlmUsage::default(),
            error: Some(error.to_string()),
            latency: started.elapsed(),
        };
        self.billing.release(reservation, &settlement).await;
    }
}

#[async_trait]
impl LlmGateway for Gateway {
    async fn complete(&self, call: &LlmCallInfo, request: LlmRequest) -> Result<LlmResponse, LlmError> {
        self.complete_with_tools(call, request.into()).await.map(Into::into)
    }

    async fn stream(&self, call: &LlmCallInfo, request: LlmRequest) -> Result<Box<dyn LlmStream>, LlmError> {
        self.stream_with_tools(call, request.into()).await
    }

    #[tracing::instrument(skip_all, fields(session = %call.session_id, plugin = %call.plugin_name), err)]
    async fn complete_with_tools(
        &self,
        call: &LlmCallInfo,
        request: LlmToolRequest,
    ) -> Result<LlmToolResponse, LlmError> {
        let (prepared, reservation) = self.admit(call, request, false).await?;
        let started = Instant::now();
        let prepared = &prepared;
        let outcome = fallback::run(&self.providers, self.retry, |provider| async move {
            provider.complete(prepared).await
        })
        .await;
        let (provider, mut response) = match outcome {
            Ok(answer) => answer,
            Err(error) => {
                self.settle_failure(&reservation, &error, started).await;
                return Err(error);
            }
        };
        if response.usage == LlmUsage::default() {
            // A server that does not count tokens (some local ones) is billed by estimate.
            response.usage = LlmUsage {
                input_tokens: estimate_tokens(prepared.bytes),
                output_tokens: estimate_tokens(response.content.len()),
            };
        }
        let settlement = Settlement {
            provider: Some(provider.name()),
            model: Some(if response.model.is_empty() {
                provider.model().to_owned()
            } else {
                response.model.clone()
            }),
            usage: response.usage,
            error: None,
            latency: started.elapsed(),
        };
        let credits = self.billing.settle(&reservation, &settlement).await?;
        tracing::info!(
            provider = provider.name(),
            model = %response.model,
            input_tokens = response.usage.input_tokens,
            output_tokens = response.usage.output_tokens,
            credits,
            "LLM call"
        );
        Ok(response)
    }

    #[tracing::instrument(skip_all, fields(session = %call.session_id, plugin = %call.plugin_name), err)]
    async fn stream_with_tools(
        &self,
        call: &LlmCallInfo,
        request: LlmToolRequest,
    ) -> Result<Box<dyn LlmStream>, LlmError> {
        let (prepared, reservation) = self.admit(call, request, true).await?;
        let started = Instant::now();
        let prepared = &prepared;
        let outcome =
            fallback::run(
                &self.providers,
                self.retry,
                |provider| async move { provider.stream(prepared).await },
            )
            .await;
        match outcome {
            Ok((provider, events)) => Ok(Box::new(GatewayStream::new(
                events,
                provider.name(),
                provider.model().to_owned(),
                self.billing.clone(),
                reservation,
                started,
                prepared.bytes,
            ))),
            Err(error) => {
                self.settle_failure(&reservation, &error, started).await;
                Err(error)
            }
        }
    }
}
