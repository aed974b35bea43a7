//! What an app is given besides WASI: its database, key-value store, configuration, log sink and
//! outbound allow-list. The embedder builds one [`Capabilities`] per app at load; the runtime
//! hands it to every request of that app and to no other app.

use std::sync::Arc;

use crate::config::{AppConfig, StaticConfig};
use crate::db::{AppDb, NoDatabase};
use crate::kv::{AppKv, MemoryKv};
use crate::log::{LogSink, MemoryLogSink};
use crate::outbound::OutboundPolicy;

/// One app's backends and policies.
#[derive(Clone)]
pub struct Capabilities {
    /// `vibe:app/db`.
    pub db: Arc<dyn AppDb>,
    /// `vibe:app/kv`.
    pub kv: Arc<dyn AppKv>,
    /// `vibe:app/config`.
    pub config: Arc<dyn AppConfig>,
    /// Where the app's log entries go.
    pub logs: Arc<dyn LogSink>,
    /// The hosts `wasi:http/outgoing-handler` may reach.
    pub outbound: OutboundPolicy,
}

impl Capabilities {
    /// No database, an empty in-memory key-value store, no configuration, an in-memory log of
    /// the last 1,000 entries, no outbound requests.
    pub fn isolated() -> Self {
        Capabilities {
            db: Arc::new(NoDatabase),
            kv: Arc::new(MemoryKv::default()),
            config: Arc::new(StaticConfig::default()),
            logs: Arc::new(MemoryLogSink::new(1_000)),
            outbound: OutboundPolicy::deny_all(),
        }
    }
}

impl std::fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capabilities").field("outbound", &self.outbound).finish_non_exhaustive()
    }
}
