//! Serving generated apps and managing their lifecycle: the host's side of the apps runtime.
//!
//! [`AppsService`] owns the one [`Runtime`] (built on first use), the tenancy (each app's schema and
//! role, `vibe_apps_runtime::tenant`), the artifact store (`artifacts.rs`) and the live table
//! (`registry.rs`), whose apps load their component on their first request and drop it again after
//! [`AppsSettings::idle_unload`] without one. Versions are created, rolled back, paused, resumed and deleted in `deploy.rs`;
//! requests reach the live version through `routing.rs`, which also injects the Vibe Wrapper
//! (`wrapper.rs`) and records analytics (`analytics.rs`); the apps' logs go to Postgres (`logs.rs`).
//!
//! The database is the truth about what is live: every change is committed first, then announced as
//! an `app:status` event, and each `vibe` process (its own included) reloads the app from the
//! database when the event arrives ([`AppsService::reload`]). A deploy by the CLI thus reaches every
//! running server without a restart.

pub mod analytics;
pub mod artifacts;
mod batch;
pub mod cli;
pub mod deploy;
pub mod entry;
pub mod health;
pub mod identity;
pub mod kv;
pub mod logs;
pub(crate) mod migrations;
pub mod registry;
pub mod routing;
pub mod wrapper;

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::OnceCell;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;
use vibe_apps_runtime::tenant::{Tenancy, TenantSettings};
use vibe_apps_runtime::{
    Capabilities, ComponentSource, KvLimits, LazyApp, Limits, LoadError, OutboundPolicy, Runtime,
    RuntimeConfig, StaticConfig,
};

use crate::config::ServeConfig;
use crate::events::{EventBus, EventKind};
use analytics::Analytics;
use artifacts::{ArtifactStore, LocalArtifacts};
use kv::PgKv;
use logs::PgLogSink;
use registry::{LiveApp, LiveState, Registry};

/// Where the service keeps its files and how apps are addressed.
#[derive(Debug, Clone)]
pub struct AppsSettings {
    /// Components go to `<data_dir>/artifacts`, precompiled code to `<data_dir>/compiled`.
    pub data_dir: PathBuf,
    /// Apps answer on `{slug}.{apps_domain}`.
    pub apps_domain: String,
    /// Where the wrapper's badge links to.
    pub public_base: String,
    /// An app's component is unloaded after this long without a request (zero: never).
    pub idle_unload: Duration,
}

impl AppsSettings {
    /// The settings of a server.
    pub fn from_config(config: &ServeConfig) -> Self {
        AppsSettings {
            data_dir: config.data_dir.clone(),
            apps_domain: config.apps_domain.trim_end_matches('.').to_ascii_lowercase(),
            public_base: config.public_base(),
            idle_unload: Duration::from_secs(config.apps_idle_unload_secs),
        }
    }
}

/// Serves every live app of this process and changes what is live. Cheap to clone.
#[derive(Clone)]
pub struct AppsService {
    inner: Arc<Inner>,
}

struct Inner {
    db: PgPool,
    events: EventBus,
    settings: AppsSettings,
    runtime_config: RuntimeConfig,
    runtime: OnceCell<Runtime>,
    tenancy: OnceCell<Tenancy>,
    artifacts: Arc<dyn ArtifactStore>,
    registry: Registry,
    analytics: Analytics,
    logs: PgLogSink,
    /// Reloads run one at a time, each reading the database afresh, so the last one wins with the
    /// latest state whatever order their events arrived in.
    reloading: tokio::sync::Mutex<()>,
}

/// The name of the secret app role passwords are derived from, in `platform_secrets`.
const TENANT_SECRET: &str = "tenant_passwords";

impl AppsService {
    /// The service over `db`; starts the batch writers and the listener that reloads apps on
    /// `app:status` events. Nothing is compiled or loaded until used ([`AppsService::load_all`]).
    pub fn start(db: PgPool, events: EventBus, settings: AppsSettings) -> Self {
        let runtime_config = RuntimeConfig::new(settings.data_dir.join("compiled"));
        let inner = Arc::new(Inner {
            artifacts: Arc::new(LocalArtifacts::new(settings.data_dir.join("artifacts"))),
            analytics: Analytics::start(db.clone()),
            logs: PgLogSink::start(db.clone()),
            db,
            events: events.clone(),
            settings,
            runtime_config,
            runtime: OnceCell::new(),
            tenancy: OnceCell::new(),
            registry: Registry::default(),
            reloading: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(follow_events(Arc::downgrade(&inner), events));
        if !inner.settings.idle_unload.is_zero() {
            tokio::spawn(unload_idle_forever(Arc::downgrade(&inner)));
        }
        tokio::spawn(analytics::prune_forever(inner.db.clone()));
        AppsService { inner }
    }

    /// The live table.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The settings.
    pub fn settings(&self) -> &AppsSettings {
        &self.inner.settings
    }

    /// The analytics recorder.
    pub fn analytics(&self) -> &Analytics {
        &self.inner.analytics
    }

    /// The apps' log.
    pub fn logs(&self) -> &PgLogSink {
        &self.inner.logs
    }

    /// The component store.
    pub fn artifacts(&self) -> &Arc<dyn ArtifactStore> {
        &self.inner.artifacts
    }

    /// The runtime, built on first use.
    pub async fn runtime(&self) -> anyhow::Result<&Runtime> {
        let config = &self.inner.runtime_config;
        self.inner
            .runtime
            .get_or_try_init(|| async { Runtime::new(config.clone()).context("starting the apps runtime") })
            .await
    }

    /// Each app's database, with the secret every process of the cluster shares.
    pub async fn tenancy(&self) -> anyhow::Result<&Tenancy> {
        let db = &self.inner.db;
        self.inner
            .tenancy
            .get_or_try_init(|| async {
                let secret = shared_secret(db, TENANT_SECRET).await?;
                Ok(Tenancy::new(db.clone(), &secret, TenantSettings::default()))
            })
            .await
    }

    /// The limits in `hosting_config`, checked against this server's ceilings; the error says what
    /// to change.
    pub fn check_hosting_config(&self, hosting_config: &Value) -> Result<Limits, LoadError> {
        let limits = Limits::from_hosting_config(hosting_config)?;
        limits.check(&self.inner.runtime_config.ceilings)?;
        OutboundPolicy::from_hosting_config(hosting_config)?;
        Ok(limits)
    }

    /// Registers every deployed or paused app (at server start); each loads on its first request.
    pub async fn load_all(&self) -> anyhow::Result<()> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM apps WHERE status IN ('deployed', 'paused') AND live_version_id IS NOT NULL",
        )
        .fetch_all(&self.inner.db)
        .await
        .context("listing the live apps")?;
        let mut failed = 0;
        for id in &ids {
            if let Err(error) = self.refresh(*id, false).await {
                failed += 1;
                tracing::error!(app_id = %id, error = format!("{error:#}"), "cannot load an app");
            }
        }
        tracing::info!(apps = ids.len() - failed, failed, "live apps loaded");
        Ok(())
    }

    /// Brings this process's entry for `app_id` in line with the database: serving its live version,
    /// paused, or gone. An entry already matching the database is kept (same instance limits and
    /// in-flight count). The new version of an app whose component is in memory (one in use) is
    /// loaded before the switch, so its next request is not slower; when it cannot be, the previous
    /// entry stays. A version that just went live (a deploy, a rollback) starts loading in the
    /// background after the switch, as its first visitor is likely on the way; it is unloaded again
    /// if it stays idle. Other apps load on their first request.
    pub async fn reload(&self, app_id: Uuid) -> anyhow::Result<()> {
        self.refresh(app_id, true).await
    }

    /// [`AppsService::reload`]; `warm_new_version` off (at server start) loads nothing ahead.
    async fn refresh(&self, app_id: Uuid, warm_new_version: bool) -> anyhow::Result<()> {
        let _one_at_a_time = self.inner.reloading.lock().await;
        let row: Option<LiveRow> = sqlx::query_as(
            "SELECT a.slug, a.status, a.hosting_config, a.features_enabled, \
                    v.id AS version_id, v.number, v.component_digest, v.config \
             FROM apps a LEFT JOIN app_versions v ON v.id = a.live_version_id WHERE a.id = $1",
        )
        .bind(app_id)
        .fetch_optional(&self.inner.db)
        .await
        .context("reading the app")?;
        let Some(row) = row.filter(|row| matches!(row.status.as_str(), "deployed" | "paused")) else {
            self.inner.registry.remove(app_id);
            return Ok(());
        };
        let (Some(version_id), Some(number), Some(digest)) =
            (row.version_id, row.number, &row.component_digest)
        else {
            self.inner.registry.remove(app_id);
            return Ok(());
        };
        let fingerprint = format!(
            "{}|{version_id}|{}|{}|{}",
            row.status,
            row.hosting_config,
            row.features_enabled,
            row.config.as_ref().map(Value::to_string).unwrap_or_default()
        );
        let current = self.inner.registry.by_id(app_id);
        if current.as_ref().is_some_and(|live| live.fingerprint == fingerprint && live.slug == row.slug) {
            return Ok(());
        }
        let state = if row.status == "paused" {
            LiveState::Paused
        } else {
            let config = row.config.clone().unwrap_or(Value::Null);
            let app = self.register(app_id, digest, &row.hosting_config, &config).await?;
            let in_use = current
                .as_ref()
                .is_some_and(|live| matches!(&live.state, LiveState::Serving(lazy) if lazy.is_loaded()));
            if in_use {
                app.get().await?;
            } else if warm_new_version && current.as_ref().is_none_or(|live| live.version_id != version_id) {
                let warming = app.clone();
                tokio::spawn(async move {
                    if let Err(error) = warming.get().await {
                        tracing::warn!(%app_id, %error, "cannot load a newly live version ahead");
                    }
                });
            }
            LiveState::Serving(app)
        };
        self.inner.registry.switch(LiveApp {
            app_id,
            slug: row.slug,
            version_id,
            version: number,
            state,
            wrapper: wrapper::enabled(&row.features_enabled),
            fingerprint,
        });
        Ok(())
    }

    /// Registers app `app_id` to serve the component `digest` from the store, with the limits and
    /// outbound hosts of `hosting_config` and the settings of `config`; nothing is loaded yet.
    pub async fn register(
        &self,
        app_id: Uuid,
        digest: &str,
        hosting_config: &Value,
        config: &Value,
    ) -> anyhow::Result<LazyApp> {
        let limits = self.check_hosting_config(hosting_config)?;
        let source = match self.inner.artifacts.local_file(digest) {
            Some(path) => ComponentSource::File(path),
            None => match self.inner.artifacts.get(digest).await? {
                Some(bytes) => ComponentSource::Bytes(bytes),
                None => anyhow::bail!("component {digest} is missing from the artifact store"),
            },
        };
        let capabilities = self.capabilities(app_id, hosting_config, config).await?;
        Ok(self.runtime().await?.register(app_id, digest, source, limits, capabilities)?)
    }

    /// What app `app_id` is given: its own database, key-value store (in PostgreSQL, `kv.rs`),
    /// settings, the shared log, and the outbound hosts its hosting configuration allows.
    async fn capabilities(
        &self,
        app_id: Uuid,
        hosting_config: &Value,
        config: &Value,
    ) -> anyhow::Result<Capabilities> {
        let settings: Vec<(String, String)> = config
            .as_object()
            .map(|map| {
                map.iter()
                    .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Capabilities {
            db: self.tenancy().await?.app_db(app_id),
            kv: Arc::new(PgKv::new(self.inner.db.clone(), app_id, KvLimits::default())),
            config: Arc::new(StaticConfig::new(settings)),
            logs: Arc::new(self.inner.logs.clone()),
            outbound: OutboundPolicy::from_hosting_config(hosting_config)?,
        })
    }

    /// Forgets app `app_id` entirely in this process (after it was deleted).
    fn forget(&self, app_id: Uuid) {
        self.inner.registry.remove(app_id);
    }

    /// Writes every queued analytics and log row (at shutdown, and for tests).
    pub async fn flush(&self) {
        self.inner.analytics.flush().await;
        self.inner.logs.flush().await;
    }

    fn db(&self) -> &PgPool {
        &self.inner.db
    }

    fn events(&self) -> &EventBus {
        &self.inner.events
    }
}

#[derive(sqlx::FromRow)]
struct LiveRow {
    slug: String,
    status: String,
    hosting_config: Value,
    features_enabled: Value,
    version_id: Option<Uuid>,
    number: Option<i32>,
    component_digest: Option<String>,
    config: Option<Value>,
}

/// Reloads an app whenever an `app:status` event about it arrives, from any process; after missing
/// events (a lag), reloads every app.
async fn follow_events(service: Weak<Inner>, events: EventBus) {
    let mut received = events.subscribe();
    loop {
        let event = received.recv().await;
        let Some(inner) = service.upgrade() else { return };
        let service = AppsService { inner };
        match event {
            Ok(live) if live.event.kind == EventKind::AppStatus.as_str() => {
                let Some(app_id) = live.event.app_id else { continue };
                if live.event.data.get("status").and_then(Value::as_str) == Some("deleted") {
                    service.forget(app_id);
                    continue;
                }
                tokio::spawn(async move {
                    if let Err(error) = service.reload(app_id).await {
                        tracing::error!(%app_id, error = format!("{error:#}"), "cannot reload an app");
                    }
                });
            }
            Ok(_) => {}
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "app events missed; reloading every app");
                tokio::spawn(async move {
                    if let Err(error) = service.load_all().await {
                        tracing::error!(error = format!("{error:#}"), "cannot reload the apps");
                    }
                });
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Unloads the components of apps idle for the configured time, checking a few times per period.
async fn unload_idle_forever(service: Weak<Inner>) {
    let Some(idle) = service.upgrade().map(|inner| inner.settings.idle_unload) else { return };
    let every = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = service.upgrade() else { return };
        let unloaded = inner.registry.unload_idle(idle);
        if unloaded > 0 {
            tracing::debug!(unloaded, loaded = inner.registry.loaded(), "idle apps unloaded");
        }
    }
}

/// The secret `name` every process on this database shares, made on first use.
async fn shared_secret(db: &PgPool, name: &str) -> anyhow::Result<Vec<u8>> {
    let fresh: [u8; 32] = rand::random();
    sqlx::query("INSERT INTO platform_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(fresh.as_slice())
        .execute(db)
        .await
        .context("storing a platform secret")?;
    sqlx::query_scalar("SELECT value FROM platform_secrets WHERE name = $1")
        .bind(name)
        .fetch_one(db)
        .await
        .context("reading a platform secret")
}
