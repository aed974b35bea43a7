//! The embedded PostgreSQL cluster Vibe runs when no database is configured.

use std::path::Path;

use sqlx::postgres::PgConnectOptions;

/// A private PostgreSQL cluster under the data directory.
pub struct EmbeddedPostgres {
    options: PgConnectOptions,
}

impl EmbeddedPostgres {
    /// Starts (or reuses) the cluster under `data_dir`.
    pub async fn start(_data_dir: &Path, _bin_dir: Option<&Path>) -> anyhow::Result<Self> {
        anyhow::bail!("the embedded PostgreSQL cluster is being built; set VIBE_DATABASE_URL")
    }

    /// How to connect to it.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    /// Stops the cluster.
    pub async fn stop(self) -> anyhow::Result<()> {
        Ok(())
    }
}
