//! The gateway's settings, part of `vibe serve`'s configuration (`VIBE_*` variables): the
//! providers, their order, timeouts and retries, prices in credits, the per-user rate and the
//! request limits. API keys are [`ApiKey`]s: they never print, in `Debug`, logs or errors.

use std::str::FromStr;
use std::sync::Arc;

use clap::Args;

use crate::secrets::Secret;

/// An API key: kept as a [`Secret`], so it never prints.
#[derive(Clone)]
pub struct ApiKey(Arc<Secret>);

impl ApiKey {
    /// The key's text (only for the request header).
    pub fn expose(&self) -> &[u8] {
        self.0.expose()
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

impl FromStr for ApiKey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the API key is empty".to_owned());
        }
        // Header values must be visible ASCII; say so without echoing the key.
        if !text.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err("the API key has characters other than visible ASCII".to_owned());
        }
        Ok(ApiKey(Arc::new(Secret::from_bytes(text.as_bytes().to_vec()))))
    }
}

/// A provider's wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProviderKind {
    /// The Anthropic Messages API.
    Anthropic,
    /// The OpenAI Chat Completions API, or any server speaking it.
    Openai,
}

/// The LLM gateway's settings.
#[derive(Clone, Debug, Args)]
pub struct LlmConfig {
    /// Anthropic API key; set it to use Anthropic.
    #[arg(long, env = "VIBE_ANTHROPIC_API_KEY", hide_env_values = true)]
    pub anthropic_api_key: Option<ApiKey>,
    /// Base URL of the Anthropic API (requests go to {base}/v1/messages).
    #[arg(long, env = "VIBE_ANTHROPIC_BASE_URL", default_value = "https://api.anthropic.com")]
    pub anthropic_base_url: url::Url,
    /// The Anthropic model to use.
    #[arg(long, env = "VIBE_ANTHROPIC_MODEL", default_value = "claude-sonnet-4-5")]
    pub anthropic_model: String,
    /// OpenAI (or compatible server) API key.
    #[arg(long, env = "VIBE_OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<ApiKey>,
    /// Base URL of an OpenAI-compatible API (requests go to {base}/chat/completions). Setting it
    /// alone, without a key, configures a local model server. Unset: https://api.openai.com/v1.
    #[arg(long, env = "VIBE_OPENAI_BASE_URL")]
    pub openai_base_url: Option<url::Url>,
    /// The OpenAI (or local) model to use.
    #[arg(long, env = "VIBE_OPENAI_MODEL", default_value = "gpt-4o-mini")]
    pub openai_model: String,
    /// The providers to try, in order, comma-separated (`anthropic,openai`). Unset: every
    /// configured one, Anthropic first.
    #[arg(long, env = "VIBE_LLM_PROVIDERS", value_delimiter = ',')]
    pub llm_providers: Vec<ProviderKind>,
    /// Seconds to wait for a provider's answer (for a stream: its headers, then each chunk).
    #[arg(long, env = "VIBE_LLM_TIMEOUT_SECS", default_value_t = 60)]
    pub llm_timeout_secs: u64,
    /// Retries of one provider on 429, 5xx, connection errors and timeouts before the next one.
    #[arg(long, env = "VIBE_LLM_MAX_RETRIES", default_value_t = 2)]
    pub llm_max_retries: u32,
    /// Credits charged per 1,000 input tokens.
    #[arg(long, env = "VIBE_LLM_CREDITS_PER_1K_INPUT", default_value_t = 1)]
    pub llm_credits_per_1k_input: u64,
    /// Credits charged per 1,000 output tokens.
    #[arg(long, env = "VIBE_LLM_CREDITS_PER_1K_OUTPUT", default_value_t = 3)]
    pub llm_credits_per_1k_output: u64,
    /// LLM calls allowed per minute to each user's sessions.
    #[arg(long, env = "VIBE_LLM_RATE_PER_MINUTE", default_value_t = 30)]
    pub llm_rate_per_minute: u32,
    /// The most tokens one answer may take (larger requests are capped).
    #[arg(long, env = "VIBE_LLM_MAX_TOKENS", default_value_t = 4096)]
    pub llm_max_tokens: u32,
    /// The most bytes of text (system, messages, tools) one request may carry.
    #[arg(long, env = "VIBE_LLM_MAX_REQUEST_BYTES", default_value_t = 256 * 1024)]
    pub llm_max_request_bytes: usize,
}

/// The OpenAI API's base URL when none is configured.
pub const OPENAI_DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

impl Default for LlmConfig {
    /// No provider (guided mode), the other settings at their defaults.
    fn default() -> Self {
        LlmConfig {
            anthropic_api_key: None,
            anthropic_base_url: url::Url::parse("https://api.anthropic.com").expect("a valid constant URL"),
            anthropic_model: "claude-sonnet-4-5".to_owned(),
            openai_api_key: None,
            openai_base_url: None,
            openai_model: "gpt-4o-mini".to_owned(),
            llm_providers: Vec::new(),
            llm_timeout_secs: 60,
            llm_max_retries: 2,
            llm_credits_per_1k_input: 1,
            llm_credits_per_1k_output: 3,
            llm_rate_per_minute: 30,
            llm_max_tokens: 4096,
            llm_max_request_bytes: 256 * 1024,
        }
    }
}

impl LlmConfig {
    /// Whether `kind` has what it needs: Anthropic a key, OpenAI a key or a base URL of its own.
    pub fn is_configured(&self, kind: ProviderKind) -> bool {
        match kind {
            ProviderKind::Anthropic => self.anthropic_api_key.is_some(),
            ProviderKind::Openai => self.openai_api_key.is_some() || self.openai_base_url.is_some(),
        }
    }

    /// The providers to try, in order; empty means guided mode. Naming a provider that is not
    /// configured is a mistake worth stopping for.
    pub fn provider_order(&self) -> anyhow::Result<Vec<ProviderKind>> {
        if self.llm_providers.is_empty() {
            return Ok([ProviderKind::Anthropic, ProviderKind::Openai]
                .into_iter()
                .filter(|kind| self.is_configured(*kind))
                .collect());
        }
        let mut order = Vec::new();
        for kind in &self.llm_providers {
            if !self.is_configured(*kind) {
                anyhow::bail!(
                    "VIBE_LLM_PROVIDERS names {kind:?}, which is not configured (set its API key{})",
                    if *kind == ProviderKind::Openai { " or VIBE_OPENAI_BASE_URL" } else { "" }
                );
            }
            if !order.contains(kind) {
                order.push(*kind);
            }
        }
        Ok(order)
    }
}
