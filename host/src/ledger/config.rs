//! The credits settings, part of `vibe serve`'s configuration (`VIBE_*` variables): reservation expiry,
//! the consumption-spike rule, the grace period of apps whose owner ran out, the price table of metered
//! usage, and Stripe. The Stripe keys are [`StripeKey`]s: they never print, in `Debug`, logs or errors.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::secrets::Secret;

/// A Stripe secret: kept as a [`Secret`], so it never prints.
#[derive(Clone)]
pub struct StripeKey(Arc<Secret>);

impl StripeKey {
    /// The key's bytes (only for the request header or the signature check).
    pub fn expose(&self) -> &[u8] {
        self.0.expose()
    }
}

impl std::fmt::Debug for StripeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripeKey(..)")
    }
}

impl FromStr for StripeKey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the key is empty".to_owned());
        }
        if !text.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err("the key has characters other than visible ASCII".to_owned());
        }
        Ok(StripeKey(Arc::new(Secret::from_bytes(text.as_bytes().to_vec()))))
    }
}

/// Credits settings.
#[derive(Clone, Debug, Args)]
pub struct CreditsConfig {
    /// How long a reservation holds credits before the sweep releases it (a crashed worker never settles).
    #[arg(long, env = "VIBE_CREDITS_RESERVATION_SECS", default_value_t = 900)]
    pub reservation_secs: u64,
    /// How often expired reservations are released and app grace periods checked, in seconds.
    #[arg(long, env = "VIBE_CREDITS_SWEEP_SECS", default_value_t = 60)]
    pub sweep_secs: u64,
    /// A consumption spike: more than this many credits spent within `VIBE_CREDITS_SPIKE_MINUTES` pauses
    /// the user's spending. 0 turns the rule off.
    #[arg(long, env = "VIBE_CREDITS_SPIKE_CREDITS", default_value_t = 1000)]
    pub spike_credits: i64,
    /// The window of the consumption-spike rule, in minutes.
    #[arg(long, env = "VIBE_CREDITS_SPIKE_MINUTES", default_value_t = 10)]
    pub spike_minutes: i64,
    /// How long a spike pauses spending unless an operator lifts it sooner, in minutes.
    #[arg(long, env = "VIBE_CREDITS_SPIKE_PAUSE_MINUTES", default_value_t = 60)]
    pub spike_pause_minutes: i64,
    /// How long an app keeps serving after its owner ran out of credits, in minutes; then it pauses.
    #[arg(long, env = "VIBE_CREDITS_APP_GRACE_MINUTES", default_value_t = 24 * 60)]
    pub app_grace_minutes: i64,
    /// Credits per agent call (a plugin invocation).
    #[arg(long, env = "VIBE_PRICE_AGENT_CALL", default_value_t = 1)]
    pub price_agent_call: i64,
    /// Credits per billion units of fuel an agent call burns (WASM instructions, roughly), on top of
    /// the call's price; rounded down, so ordinary calls cost only their price.
    #[arg(long, env = "VIBE_PRICE_AGENT_GIGAFUEL", default_value_t = 1)]
    pub price_agent_gigafuel: i64,
    /// Credits per build (spec → component → tests).
    #[arg(long, env = "VIBE_PRICE_BUILD", default_value_t = 5)]
    pub price_build: i64,
    /// Credits per 1,000 requests an app serves.
    #[arg(long, env = "VIBE_PRICE_APP_1K_REQUESTS", default_value_t = 1)]
    pub price_app_1k_requests: i64,
    /// Stripe secret key (`sk_…`); unset: purchases are not configured.
    #[arg(long, env = "VIBE_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<StripeKey>,
    /// The signing secret of the Stripe webhook endpoint (`whsec_…`).
    #[arg(long, env = "VIBE_STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<StripeKey>,
    /// Base URL of the Stripe API (tests point it at a local server).
    #[arg(long, env = "VIBE_STRIPE_API_BASE", default_value = "https://api.stripe.com")]
    pub stripe_api_base: url::Url,
    /// Price of one credit in the smallest currency unit (cents).
    #[arg(long, env = "VIBE_CREDIT_PRICE_CENTS", default_value_t = 1)]
    pub credit_price_cents: i64,
    /// The currency of purchases (ISO code, lowercase).
    #[arg(long, env = "VIBE_CREDIT_CURRENCY", default_value = "usd")]
    pub credit_currency: String,
    /// Fewest credits one purchase may buy.
    #[arg(long, env = "VIBE_CREDITS_MIN_PURCHASE", default_value_t = 100)]
    pub min_purchase: i64,
}

/// Most credits one purchase may buy.
pub const MAX_PURCHASE: i64 = 10_000_000;

impl Default for CreditsConfig {
    fn default() -> Self {
        CreditsConfig {
            reservation_secs: 900,
            sweep_secs: 60,
            spike_credits: 1000,
            spike_minutes: 10,
            spike_pause_minutes: 60,
            app_grace_minutes: 24 * 60,
            price_agent_call: 1,
            price_agent_gigafuel: 1,
            price_build: 5,
            price_app_1k_requests: 1,
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: url::Url::parse("https://api.stripe.com").expect("a valid constant URL"),
            credit_price_cents: 1,
            credit_currency: "usd".to_owned(),
            min_purchase: 100,
        }
    }
}

impl CreditsConfig {
    /// How long a reservation lives.
    pub fn reservation_ttl(&self) -> Duration {
        Duration::from_secs(self.reservation_secs.max(1))
    }

    /// The period of the background sweep.
    pub fn sweep_period(&self) -> Duration {
        Duration::from_secs(self.sweep_secs.max(1))
    }
}
