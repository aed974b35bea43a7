//! The host capabilities an agent may use (`vibe:agent` imports), each in its own file: its
//! backend (shared by components and Extism plugins) and, for components, its `Host` impl.
//!
//! Every call checks the plugin version's [`Grants`] first: a capability that was not granted
//! answers `denied` to the guest (an ordinary error it may handle) and touches nothing. What a
//! call may reach is the one idea and session of [`CallShared`]: the kv store of this plugin on
//! this idea, this idea's artifacts, this session's events.

pub mod events;
pub mod kv;
pub mod llm;
pub mod llm_tools;
pub mod log;
pub mod outbound;
pub mod pipeline;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_apps_runtime::OutboundPolicy;

use super::limits::AgentLimits;
use super::types::Capability;
use crate::events::EventBus;
use llm::LlmGateway;
use log::LogCollector;

/// What a plugin version was granted: the capabilities an operator approved and, with `http`,
/// the outbound hosts.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    capabilities: BTreeSet<Capability>,
    outbound_hosts: Vec<String>,
    outbound: Arc<OutboundPolicy>,
}

impl Grants {
    /// Nothing at all.
    pub fn none() -> Self {
        Grants::default()
    }

    /// `capabilities`, and outbound HTTP to `outbound_hosts` (`name`, `name:port` or
    /// `*.domain[:port]`) when `http` is among them. Refuses a malformed host.
    pub fn new<S: AsRef<str>>(
        capabilities: impl IntoIterator<Item = Capability>,
        outbound_hosts: impl IntoIterator<Item = S>,
    ) -> Result<Self, String> {
        let capabilities: BTreeSet<Capability> = capabilities.into_iter().collect();
        let outbound_hosts: Vec<String> =
            outbound_hosts.into_iter().map(|host| host.as_ref().to_owned()).collect();
        let outbound = if capabilities.contains(&Capability::Http) {
            OutboundPolicy::allow(&outbound_hosts).map_err(|error| error.to_string())?
        } else {
            OutboundPolicy::deny_all()
        };
        Ok(Grants { capabilities, outbound_hosts, outbound: Arc::new(outbound) })
    }

    /// Whether `capability` was granted.
    pub fn allows(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    /// The granted capabilities.
    pub fn capabilities(&self) -> impl Iterator<Item = Capability> + '_ {
        self.capabilities.iter().copied()
    }

    /// The approved outbound hosts (reachable only with `http` granted).
    pub fn outbound_hosts(&self) -> &[String] {
        &self.outbound_hosts
    }

    pub(crate) fn outbound(&self) -> &Arc<OutboundPolicy> {
        &self.outbound
    }
}

/// The platform services capabilities reach: one per process, shared by every call.
pub struct AgentServices {
    /// The platform database (kv, pipeline artifacts).
    pub db: PgPool,
    /// Live events to sessions.
    pub events: EventBus,
    /// The LLM gateway (issue 5); [`llm::NoLlmProvider`] in guided mode.
    pub llm: Arc<dyn LlmGateway>,
}

impl std::fmt::Debug for AgentServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentServices").finish_non_exhaustive()
    }
}

/// What every capability call of one turn shares.
pub(crate) struct CallShared {
    pub(crate) idea_id: Uuid,
    pub(crate) session_id: Uuid,
    pub(crate) plugin_name: String,
    pub(crate) plugin_version: String,
    pub(crate) grants: Grants,
    /// `None` while describing a plugin at load: nothing is granted then.
    pub(crate) services: Option<Arc<AgentServices>>,
    pub(crate) limits: AgentLimits,
    /// Events emitted so far this turn (capped).
    pub(crate) events_emitted: AtomicU32,
    pub(crate) logs: LogCollector,
}

impl CallShared {
    /// `Ok` when `capability` was granted, else the guest-visible refusal.
    pub(crate) fn require(&self, capability: Capability) -> Result<(), CapError> {
        if self.grants.allows(capability) {
            Ok(())
        } else {
            Err(CapError::Denied(format!(
                "the `{capability}` capability was not granted to {} {}",
                self.plugin_name, self.plugin_version
            )))
        }
    }

    /// The platform services (absent only while describing, when nothing is granted).
    pub(crate) fn services(&self) -> Result<&AgentServices, CapError> {
        self.services.as_deref().ok_or_else(|| CapError::Unavailable("no services while loading".to_owned()))
    }
}

/// Why a capability call failed, as the guest sees it (`vibe:agent/types.error`; in JSON,
/// `{"kind": "denied", "message": "..."}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum CapError {
    /// Not granted.
    #[error("denied: {0}")]
    Denied(String),
    /// Refused arguments.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Too large.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The plugin's store is full.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// A newer version was written first.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backing store failed.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl CapError {
    /// A database failure, logged in full and shown to the guest without internals.
    pub(crate) fn database(what: &str, error: &sqlx::Error) -> CapError {
        tracing::warn!(error = %error, "agent capability {what} failed");
        CapError::Unavailable(format!("{what} is unavailable right now"))
    }
}
