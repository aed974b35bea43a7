//! The state every request handler shares.

use std::sync::Arc;

use sqlx::PgPool;

use crate::agents::dispatch::AgentHost;
use crate::agents::runtime::{AgentRuntimeConfig, AgentServices, LlmGateway};
use crate::apps::{AppsService, AppsSettings};
use crate::auth::TokenKeys;
use crate::auth::rate_limit::AuthRateLimits;
use crate::build::pipeline::BuildService;
use crate::config::ServeConfig;
use crate::events::EventBus;
use crate::ledger::Ledger;
use crate::mail::{self, Mailer};
use crate::secrets::Secret;

/// Handles to everything a request may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<ServeConfig>,
    pub tokens: Arc<TokenKeys>,
    pub mailer: Arc<dyn Mailer>,
    pub events: EventBus,
    pub rate_limits: Arc<AuthRateLimits>,
    /// The live apps and their lifecycle.
    pub apps: AppsService,
    /// The agent host: plugins, routing, track records.
    pub agents: AgentHost,
    /// The LLM gateway agents reach models through; `NoLlmProvider` in guided mode.
    pub llm: Arc<dyn LlmGateway>,
    /// The credit ledger: balances, reservations, metering, purchases.
    pub ledger: Ledger,
    /// The build service: the compiler's workspace and limits, the apps' repositories.
    pub builds: Arc<BuildService>,
}

impl AppState {
    /// Builds the state and starts its background parts (the event listener).
    pub async fn new(db: PgPool, config: ServeConfig, token_secret: &Secret) -> anyhow::Result<Self> {
        let mailer = mail::from_config(&config, db.clone())?;
        let events = EventBus::start(db.clone()).await?;
        let rate_limits = Arc::new(AuthRateLimits::new(config.auth_rate_per_minute));
        let apps = AppsService::start(db.clone(), events.clone(), AppsSettings::from_config(&config));
        let llm = crate::llm::gateway(&config.llm, db.clone())?;
        let ledger = Ledger::new(db.clone(), events.clone(), (*config.credits).clone())?;
        let services = AgentServices { db: db.clone(), events: events.clone(), llm: llm.clone() };
        let agents = AgentHost::start(
            db.clone(),
            AgentRuntimeConfig::new(&config.data_dir),
            apps.artifacts().clone(),
            Arc::new(services),
        )
        .await?;
        Ok(AppState {
            db,
            tokens: Arc::new(TokenKeys::new(token_secret)),
            mailer,
            events,
            rate_limits,
            apps,
            agents,
            llm,
            ledger,
            builds: Arc::new(BuildService::new(&config)),
            config: Arc::new(config),
        })
    }
}
