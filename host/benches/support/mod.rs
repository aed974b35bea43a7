//! What the host's bench binaries share: a Tokio runtime sized to the machine, a scratch database
//! created on the tests' PostgreSQL server and dropped afterwards, and percentiles.

use std::future::Future;
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// Runs `measure` on a two-thread runtime with the URL of a fresh database on the server at
/// `DATABASE_URL` (the tests' default), dropping the database afterwards whatever the outcome.
pub fn run_in_scratch_database<F, Fut>(measure: F) -> anyhow::Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let server = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let scratch = format!("vibe_bench_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server).await?;
        sqlx::query(&format!("CREATE DATABASE {scratch}")).execute(&mut admin).await?;
        let url = match server.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{scratch}"),
            None => anyhow::bail!("DATABASE_URL has no database name"),
        };
        let outcome = measure(url).await;
        sqlx::query(&format!("DROP DATABASE {scratch} WITH (FORCE)")).execute(&mut admin).await?;
        outcome
    })
}

/// The `quantile` (0.0 to 1.0) of `sorted`, which must not be empty.
pub fn percentile(sorted: &[Duration], quantile: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
