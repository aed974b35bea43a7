//! Dispatching a turn to the version of an agent type that should take it: the one function the
//! orchestrator calls ([`run_turn`]), and the per-process [`AgentHost`] behind it.
//!
//! A session's first turn picks a version from the routing table in memory (no query) and records
//! it in `agent_sessions.agent_version`; later turns use that version for as long as it stays
//! routable (a deprecated version's sessions move to a fresh pick). The compiled plugin is cached per
//! process by digest, and newly routed versions are compiled as soon as a routing change arrives,
//! so that a hot swap never makes a turn wait for a compiler. A turn already running finishes on
//! its version whatever the routing does meanwhile. Every call, failed or not, goes into its
//! version's track record.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::sync::OnceCell;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::registry::catalog::{self, Published, Viewer};
use super::registry::routing::{RoutableVersion, RoutingTables};
use super::registry::store::{self, ArtifactStore};
use super::registry::track::{CallRecord, Recorder};
use super::registry::verify::Submission;
use super::runtime::{
    AgentError, AgentLimits, AgentRuntime, AgentRuntimeConfig, AgentServices, CallContext, PreparedAgent,
    TurnInput, TurnOutput,
};
use crate::error::ApiResult;
use crate::ledger::LedgerError;
use crate::state::AppState;

/// Why a turn could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// The agent type has no routable version routed.
    #[error("no version of agent type {0} is routed")]
    NoRoute(String),
    /// The session does not exist.
    #[error("no agent session {0}")]
    UnknownSession(Uuid),
    /// The session belongs to another agent type.
    #[error("session {session} is a {actual} session, not {requested}")]
    WrongAgentType { session: Uuid, actual: String, requested: String },
    /// The version's plugin could not be loaded (its artifact lost, its compiled form unusable).
    #[error("{version} cannot be loaded: {reason}")]
    Load { version: String, reason: String },
    /// The plugin took the turn and failed (a trap, a limit hit, its own refusal).
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// The database could not be reached.
    #[error("the database is unavailable: {0}")]
    Database(String),
}

impl DispatchError {
    /// A stable, machine-readable code (`agent_…` as the runtime's, or `agent_unavailable`).
    pub fn code(&self) -> &'static str {
        match self {
            DispatchError::Agent(error) => error.code(),
            DispatchError::NoRoute(_) => "agent_not_routed",
            DispatchError::UnknownSession(_) | DispatchError::WrongAgentType { .. } => {
                "agent_session_invalid"
            }
            DispatchError::Load { .. } => "agent_load_failed",
            DispatchError::Database(_) => "agent_unavailable",
        }
    }

    /// What the people in the session are told.
    pub fn public_message(&self) -> String {
        match self {
            DispatchError::Agent(error) => error.public_message(),
            DispatchError::NoRoute(_) | DispatchError::Load { .. } | DispatchError::Database(_) => {
                "this agent is not available right now; try again shortly".to_owned()
            }
            DispatchError::UnknownSession(_) | DispatchError::WrongAgentType { .. } => {
                "this session cannot take a turn of this agent".to_owned()
            }
        }
    }
}

impl From<sqlx::Error> for DispatchError {
    fn from(error: sqlx::Error) -> Self {
        DispatchError::Database(error.to_string())
    }
}

/// The agent host of this process: runtime, routing, compiled plugins and track records. Cheap to clone.
#[derive(Clone)]
pub struct AgentHost {
    inner: Arc<Inner>,
}

struct Inner {
    db: PgPool,
    /// Built on first use: a process (or a test) that never runs an agent reserves no instance pool.
    runtime: OnceCell<AgentRuntime>,
    runtime_config: AgentRuntimeConfig,
    routing: RoutingTables,
    track: Recorder,
    artifacts: Arc<dyn ArtifactStore>,
    services: Arc<AgentServices>,
    /// Compiled plugins by digest; each cell is filled once, whoever asks first compiles.
    prepared: Mutex<HashMap<String, Compiled>>,
}

/// A compiled plugin in this process's cache, and when a turn last asked for it.
struct Compiled {
    cell: Arc<OnceCell<PreparedAgent>>,
    last_used: Instant,
}

/// Compiled plugins that no routing table sends new sessions to are kept this long after their
/// last turn (sessions stuck to them may come back), and at most [`MAX_IDLE_COMPILED`] of them.
const IDLE_COMPILED_TTL: Duration = Duration::from_secs(15 * 60);
const MAX_IDLE_COMPILED: usize = 16;
/// How often the cache of compiled plugins is trimmed besides after each routing change.
const TRIM_EVERY: Duration = Duration::from_secs(60);

impl AgentHost {
    /// Loads the routing tables, starts following routing changes and the track recorder.
    pub async fn start(
        db: PgPool,
        runtime_config: AgentRuntimeConfig,
        artifacts: Arc<dyn ArtifactStore>,
        services: Arc<AgentServices>,
    ) -> anyhow::Result<Self> {
        let routing = RoutingTables::start(db.clone()).await?;
        let changes = routing.changes();
        let inner = Arc::new(Inner {
            track: Recorder::start(db.clone()),
            db,
            runtime: OnceCell::new(),
            runtime_config,
            routing,
            artifacts,
            services,
            prepared: Mutex::default(),
        });
        let host = AgentHost { inner };
        tokio::spawn(warm_up(Arc::downgrade(&host.inner), changes));
        for agent_type in host.routing().known_types() {
            host.warm(&agent_type).await;
        }
        Ok(host)
    }

    /// This process's routing tables.
    pub fn routing(&self) -> &RoutingTables {
        &self.inner.routing
    }

    /// The agent runtime, built on first use.
    pub async fn runtime(&self) -> anyhow::Result<&AgentRuntime> {
        let config = &self.inner.runtime_config;
        self.inner
            .runtime
            .get_or_try_init(|| async {
                AgentRuntime::new(config.clone()).context("starting the agent runtime")
            })
            .await
    }

    /// The largest limits any turn may get on this server.
    pub fn ceilings(&self) -> AgentLimits {
        let config = &self.inner.runtime_config;
        AgentLimits {
            memory_bytes: config.ceilings.memory_bytes.min(config.pool.max_memory_bytes),
            ..config.ceilings
        }
    }

    /// The track recorder.
    pub fn track(&self) -> &Recorder {
        &self.inner.track
    }

    /// Verifies and publishes `submission`; the compiled plugin is kept for its first turns.
    pub async fn publish(&self, caller: Viewer, submission: Submission) -> ApiResult<Published> {
        let inner = &self.inner;
        let runtime = self.runtime().await?;
        let mut published =
            catalog::publish(&inner.db, inner.artifacts.as_ref(), runtime, caller, submission).await?;
        if let Some(prepared) = published.prepared.take() {
            let cell = self.cell(prepared.digest());
            let _ = cell.set(prepared);
        }
        for agent_type in &published.version.agent_types {
            self.reload_logged(agent_type).await;
        }
        Ok(published)
    }

    /// Reloads, in this process, the tables of the agent types plugin version `name`@`version`
    /// serves (after its approval or deprecation; other processes follow the notification).
    pub async fn refresh_types_of(&self, name: &str, version: &str) {
        let types: Vec<String> = sqlx::query_scalar(
            "SELECT v.agent_type FROM agent_versions v JOIN plugin_versions p ON p.id = v.plugin_version_id \
             WHERE p.plugin_name = $1 AND p.version = $2",
        )
        .bind(name)
        .bind(version)
        .fetch_all(&self.inner.db)
        .await
        .unwrap_or_default();
        for agent_type in types {
            self.reload_logged(&agent_type).await;
        }
    }

    /// Reloads `agent_type`'s table in this process, logging a failure (the notification retries it).
    pub async fn reload_logged(&self, agent_type: &str) {
        if let Err(error) = self.inner.routing.reload(agent_type).await {
            tracing::error!(agent_type, error = format!("{error:#}"), "cannot reload a routing table");
        }
    }

    fn cell(&self, digest: &str) -> Arc<OnceCell<PreparedAgent>> {
        let mut prepared = self.inner.prepared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = prepared
            .entry(digest.to_owned())
            .or_insert_with(|| Compiled { cell: Arc::default(), last_used: Instant::now() });
        entry.last_used = Instant::now();
        entry.cell.clone()
    }

    /// The digests of the compiled plugins this process holds.
    pub fn compiled_digests(&self) -> Vec<String> {
        let prepared = self.inner.prepared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        prepared.keys().cloned().collect()
    }

    /// Drops compiled plugins that routing no longer sends new sessions to once they have been
    /// idle for [`IDLE_COMPILED_TTL`], keeping at most [`MAX_IDLE_COMPILED`] such (the most
    /// recently used). Turns running on a dropped plugin keep their own handle; a later turn of a
    /// session stuck to it compiles it again (from the on-disk artifact cache, in milliseconds).
    pub fn trim_compiled(&self, now: Instant) {
        let routing = self.routing();
        let routed: std::collections::HashSet<String> = routing
            .known_types()
            .iter()
            .flat_map(|agent_type| {
                let table = routing.table(agent_type);
                table
                    .weights()
                    .into_iter()
                    .filter_map(move |(version, _)| table.routable(&version).map(|v| v.digest.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut prepared = self.inner.prepared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut idle: Vec<(Instant, String)> = prepared
            .iter()
            .filter(|(digest, _)| !routed.contains(*digest))
            .map(|(digest, compiled)| (compiled.last_used, digest.clone()))
            .collect();
        // Most recently used first: those past the count or the age go.
        idle.sort_by_key(|(last_used, _)| std::cmp::Reverse(*last_used));
        for (index, (last_used, digest)) in idle.into_iter().enumerate() {
            if index >= MAX_IDLE_COMPILED || now.saturating_duration_since(last_used) >= IDLE_COMPILED_TTL {
                prepared.remove(&digest);
            }
        }
    }

    /// The compiled plugin of `version`, compiling it on first use.
    pub async fn prepared(&self, version: &RoutableVersion) -> Result<PreparedAgent, DispatchError> {
        let cell = self.cell(&version.digest);
        let load = || async {
            let bytes = store::fetch(self.inner.artifacts.as_ref(), &version.digest)
                .await
                .map_err(|error| format!("{error:#}"))?;
            let runtime = self.runtime().await.map_err(|error| format!("{error:#}"))?;
            runtime.prepare(&version.digest, &bytes, version.kind).await.map_err(|error| error.to_string())
        };
        match cell.get_or_try_init(load).await {
            Ok(prepared) => Ok(prepared.clone()),
            Err(reason) => {
                tracing::error!(version = version.version, reason, "a routed plugin cannot be loaded");
                Err(DispatchError::Load { version: version.version.clone(), reason })
            }
        }
    }

    /// Compiles every version routed for `agent_type` that is not compiled yet.
    async fn warm(&self, agent_type: &str) {
        let table = self.inner.routing.table(agent_type);
        for (version, _) in table.weights() {
            if let Some(version) = table.routable(&version) {
                // A failure is logged by `prepared` and retried by the first turn that needs it.
                let _ = self.prepared(&version).await;
            }
        }
    }
}

/// Compiles newly routed versions as routing changes arrive and trims the compiled plugins no
/// longer routed, until the host is dropped.
async fn warm_up(host: Weak<Inner>, mut changes: tokio::sync::broadcast::Receiver<String>) {
    let mut trim = tokio::time::interval(TRIM_EVERY);
    trim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let changed = tokio::select! {
            changed = changes.recv() => Some(changed),
            _ = trim.tick() => None,
        };
        let Some(inner) = host.upgrade() else { return };
        let host = AgentHost { inner };
        match changed {
            Some(Ok(agent_type)) => host.warm(&agent_type).await,
            Some(Err(RecvError::Lagged(_))) => {
                for agent_type in host.routing().known_types() {
                    host.warm(&agent_type).await;
                }
            }
            Some(Err(RecvError::Closed)) => return,
            None => {}
        }
        host.trim_compiled(Instant::now());
    }
}

/// The session's idea and who owns it (and pays), and its version once recorded.
#[derive(sqlx::FromRow)]
struct SessionRow {
    idea_id: Uuid,
    owner: Uuid,
    agent_type: String,
    agent_version: Option<String>,
    credits_consumed: i64,
}

/// Takes one turn of session `session_id` with the version of `agent_type` the session sticks to
/// (picked from the routing table on its first turn), and records the call in the version's track
/// record. A call that succeeded is charged to the idea's owner (`VIBE_PRICE_AGENT_CALL`, see
/// [`charge_call`]). Credits in the record are what the session was billed during the turn (the growth
/// of `agent_sessions.credits_consumed`, which the ledger keeps: the LLM calls and the call's price).
pub async fn run_turn(
    state: &AppState,
    agent_type: &str,
    session_id: Uuid,
    input: TurnInput,
) -> Result<TurnOutput, DispatchError> {
    let host = &state.agents;
    let db = &host.inner.db;
    let session: Option<SessionRow> = sqlx::query_as(
        "SELECT s.idea_id, i.user_id AS owner, s.agent_type, s.agent_version, s.credits_consumed \
         FROM agent_sessions s JOIN ideas i ON i.id = s.idea_id WHERE s.id = $1",
    )
    .bind(session_id)
    .fetch_optional(db)
    .await?;
    let session = session.ok_or(DispatchError::UnknownSession(session_id))?;
    if session.agent_type != agent_type {
        return Err(DispatchError::WrongAgentType {
            session: session_id,
            actual: session.agent_type,
            requested: agent_type.to_owned(),
        });
    }
    let version = sticky_version(host, agent_type, session_id, session.agent_version.as_deref()).await?;
    let started = Instant::now();
    // Latency is the call's own (instantiation included); a version that could not be loaded is
    // charged the time spent trying.
    let record =
        |error: Option<&'static str>, latency: Duration, fuel: Option<u64>, credits: u64| CallRecord {
            agent_type: agent_type.to_owned(),
            agent_version: version.version.clone(),
            session_id: Some(session_id),
            error: error.map(str::to_owned),
            latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            fuel: fuel.unwrap_or(0),
            credits,
            at: OffsetDateTime::now_utc(),
        };
    let prepared = match host.prepared(&version).await {
        Ok(prepared) => prepared,
        Err(error) => {
            host.inner.track.record(record(Some(error.code()), started.elapsed(), None, 0)).await;
            return Err(error);
        }
    };
    let context = CallContext {
        limits: version.limits,
        grants: version.grants.clone(),
        idea_id: session.idea_id,
        session_id,
        plugin_name: version.manifest.name.clone(),
        services: host.inner.services.clone(),
    };
    let runtime = host.runtime().await.map_err(|error| DispatchError::Load {
        version: version.version.clone(),
        reason: format!("{error:#}"),
    })?;
    let (result, stats) = runtime.call_turn(&prepared, input, context).await;
    if result.is_ok() {
        charge_call(state, session.owner, session_id, stats.fuel_consumed.unwrap_or(0)).await;
    }
    let billed: Option<i64> = sqlx::query_scalar("SELECT credits_consumed FROM agent_sessions WHERE id = $1")
        .bind(session_id)
        .fetch_optional(db)
        .await
        .unwrap_or(None);
    let credits = billed.map_or(0, |now| u64::try_from(now - session.credits_consumed).unwrap_or(0));
    let error = result.as_ref().err().map(AgentError::code);
    host.inner.track.record(record(error, stats.duration, stats.fuel_consumed, credits)).await;
    Ok(result?)
}

/// Charges one agent call to `owner`, about `session_id`, with the fuel it burned, after the call: the work is done, so a
/// refusal (no credits left, spending paused) does not undo the turn. The ledger tells the owner they
/// ran out, and their next LLM calls are refused before any provider is asked. A call that failed is
/// not charged (a trap or a limit hit is the plugin's failure, not the user's usage).
async fn charge_call(state: &AppState, owner: Uuid, session_id: Uuid, fuel: u64) {
    let call = Uuid::now_v7().to_string();
    match state.ledger.charge_agent_call(owner, session_id, &call, fuel).await {
        Ok(_) => {}
        Err(error @ (LedgerError::Insufficient { .. } | LedgerError::SpendingPaused { .. })) => {
            tracing::info!(%session_id, error = %error, "an agent call was not charged");
        }
        Err(error) => tracing::warn!(%session_id, error = %error, "charging an agent call failed"),
    }
}

/// The version session `session_id` sticks to: the recorded one while it is routable, otherwise a
/// fresh pick, recorded (when two first turns race, the first recorded wins for both).
async fn sticky_version(
    host: &AgentHost,
    agent_type: &str,
    session_id: Uuid,
    recorded: Option<&str>,
) -> Result<Arc<RoutableVersion>, DispatchError> {
    let routing = host.routing();
    if let Some(recorded) = recorded {
        if let Some(version) = routing.table(agent_type).routable(recorded) {
            return Ok(version);
        }
        // Perhaps this process has not heard of the version yet: read the table again once.
        host.reload_logged(agent_type).await;
        if let Some(version) = routing.table(agent_type).routable(recorded) {
            return Ok(version);
        }
    }
    let pick =
        routing.table(agent_type).pick().ok_or_else(|| DispatchError::NoRoute(agent_type.to_owned()))?;
    let kept: Option<String> = sqlx::query_scalar(
        "UPDATE agent_sessions SET agent_version = CASE \
             WHEN agent_version IS NOT DISTINCT FROM $3 THEN $2 ELSE agent_version END \
         WHERE id = $1 RETURNING agent_version",
    )
    .bind(session_id)
    .bind(&pick.version)
    .bind(recorded)
    .fetch_optional(&host.inner.db)
    .await?
    .flatten();
    match kept {
        Some(kept) if kept == pick.version => Ok(pick),
        // Another turn of the session recorded its pick first: use that one, if it is usable.
        Some(kept) => routing.table(agent_type).routable(&kept).map_or(Ok(pick), Ok),
        None => Err(DispatchError::UnknownSession(session_id)),
    }
}
