//! `vibe serve`: open the database, migrate, build the state, start the job workers and serve until
//! SIGINT or SIGTERM.

use std::future::IntoFuture;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::{BaseConfig, ServeConfig};
use crate::db::{self, Database};
use crate::jobs::{WorkerConfig, Workers};
use crate::state::AppState;
use crate::{api, conversation, ops, secrets};

/// Length of the token signing key, in bytes.
const TOKEN_KEY_BYTES: usize = 64;

/// How long open requests may take to finish after SIGINT or SIGTERM before they are cut off.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the server until a shutdown signal, then stops what it started.
pub async fn run(base: BaseConfig, config: ServeConfig) -> anyhow::Result<()> {
    std::fs::create_dir_all(&base.data_dir)
        .with_context(|| format!("creating the data directory {}", base.data_dir.display()))?;
    let token_key = secrets::load_or_generate(&base.data_dir.join("secrets/token.key"), TOKEN_KEY_BYTES)?;
    let database = Database::open(&base).await?;
    db::migrate(&database.pool).await?;
    ops::metrics_handle();

    let listener =
        TcpListener::bind(config.listen).await.with_context(|| format!("listening on {}", config.listen))?;
    let mut config = config;
    config.data_dir = base.data_dir.clone();
    let state = AppState::new(database.pool.clone(), config, &token_key).await?;
    state.apps.load_all().await?;
    // Reservations of a process that crashed are released before anyone checks a balance, then periodically.
    let released = state.ledger.sweep().await?;
    if released > 0 {
        tracing::info!(released, "released credit reservations left by a stopped process");
    }
    state.ledger.start_sweeper(Some(state.apps.clone()));
    if state.config.apps_health_secs > 0 {
        crate::apps::health::start(
            state.clone(),
            std::time::Duration::from_secs(state.config.apps_health_secs),
        );
    }
    // The first-party agents, before the first message can need them; a failure leaves the server up.
    if let Err(error) = crate::agents::builtin::install(&state).await {
        tracing::error!(error = format!("{error:#}"), "cannot install the built-in agents");
    }
    let workers = start_workers(&state).await?;
    tracing::info!(address = %listener.local_addr()?, embedded_db = database.embedded.is_some(), "vibe is serving");

    let events = state.events.clone();
    let state_apps = state.apps.clone();
    let (signalled, mut on_signal) = tokio::sync::watch::channel(false);
    let stopping = async move {
        shutdown_signal().await;
        let _ = signalled.send(true);
        // Upgraded WebSockets are no longer HTTP connections the graceful shutdown waits for: close them.
        events.close_connections(std::time::Duration::from_secs(5)).await;
    };
    let serving =
        axum::serve(listener, api::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(stopping)
            .into_future();
    // A client that never finishes its request (or keeps a response streaming) must not hold the
    // shutdown up forever: after the grace period, the connections still open are dropped.
    let grace_over = async move {
        match on_signal.wait_for(|signalled| *signalled).await {
            Ok(_) => tokio::time::sleep(SHUTDOWN_GRACE).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        served = serving => served.context("serving HTTP")?,
        () = grace_over => tracing::warn!(
            "connections still open {}s after the shutdown signal; closing them",
            SHUTDOWN_GRACE.as_secs()
        ),
    }

    tracing::info!("shutting down");
    // Running jobs finish (or go back to the queue) while the database is still there.
    if let Some(workers) = workers {
        workers.shutdown().await;
    }
    // Analytics and log rows still queued are written before the pool closes.
    state_apps.flush().await;
    database.close().await
}

/// Starts this process's job workers (agent turns), unless configured to run none.
async fn start_workers(state: &AppState) -> anyhow::Result<Option<Workers>> {
    let config = &state.config;
    if config.job_workers == 0 {
        return Ok(None);
    }
    let worker_config = WorkerConfig {
        concurrency: config.job_workers,
        lease: std::time::Duration::from_secs(config.job_lease_secs),
        ..WorkerConfig::default()
    };
    let mut handlers = conversation::handlers(state);
    handlers.extend(crate::build::pipeline::handlers(state));
    let workers = Workers::start(state.db.clone(), handlers, worker_config)
        .await
        .context("starting the job workers")?;
    Ok(Some(workers))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(err) => {
            tracing::error!(error = %err, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
