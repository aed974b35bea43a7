//! The platform database: connecting (to a configured server or the embedded cluster) and migrating.

pub mod embedded;

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::BaseConfig;
use embedded::EmbeddedPostgres;

/// The platform's migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A connection pool, and the embedded cluster behind it when Vibe runs its own.
pub struct Database {
    pub pool: PgPool,
    /// Present when Vibe started its own cluster; stop it after the pool is closed.
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects to `VIBE_DATABASE_URL`, or starts (or reuses) the embedded cluster when it is unset.
    pub async fn open(base: &BaseConfig) -> anyhow::Result<Self> {
        let (options, embedded) = match &base.database_url {
            Some(url) => {
                let options: PgConnectOptions =
                    url.parse().context("VIBE_DATABASE_URL is not a valid PostgreSQL URL")?;
                (options, None)
            }
            None => {
                let cluster = EmbeddedPostgres::start(&base.data_dir, base.postgres_bin.as_deref()).await?;
                (cluster.connect_options(), Some(cluster))
            }
        };
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .context("connecting to PostgreSQL")?;
        Ok(Database { pool, embedded })
    }

    /// Closes the pool, then stops the embedded cluster if Vibe started one.
    pub async fn close(self) -> anyhow::Result<()> {
        // A task that still holds a connection (a request cut off at shutdown) must not keep us waiting;
        // those sessions end with the process (the embedded server ends them when it stops).
        if tokio::time::timeout(Duration::from_secs(10), self.pool.close()).await.is_err() {
            tracing::warn!("database connections still in use after 10s; closing anyway");
        }
        if let Some(cluster) = self.embedded {
            cluster.stop().await?;
        }
        Ok(())
    }
}

/// Applies pending platform migrations.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("applying migrations")?;
    Ok(())
}
