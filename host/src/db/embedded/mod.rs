//! The embedded PostgreSQL cluster Vibe runs when no database is configured.
//!
//! With `VIBE_DATABASE_URL` unset, Vibe creates (first start) or reuses a private cluster in
//! `<data dir>/postgres`, from the PostgreSQL server binaries installed on the machine ([`binaries`]),
//! run as an unprivileged account ([`account`]), reachable only through a Unix socket ([`control`]).
//! Several `vibe` processes on one data directory share the server; the last one to stop stops it
//! ([`lock`]). A server left running by a `vibe` that was killed is reused by the next start.
//!
//! Layout of `<data dir>/postgres` (mode 0700, owned by the cluster's account):
//! `data/` the cluster, `run/` its socket, `postgres.log` its log, `*.lock` who uses it.

mod account;
mod binaries;
mod control;
mod lock;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection, PgConnection};

use account::Account;
use binaries::Binaries;
use control::{Layout, PORT, SUPERUSER, Server, Status};
use lock::{LockFiles, UserLock};

/// The database Vibe's platform data lives in.
const DATABASE: &str = "vibe";
/// How long the server may take to accept a first connection once `pg_ctl` reports it started.
const CONNECT_WAIT: Duration = Duration::from_secs(30);

/// A private PostgreSQL cluster under the data directory, in use by this process.
///
/// Call [`EmbeddedPostgres::stop`] when done; if it is dropped instead, the drop stops the server
/// (blocking) so that an error path never leaves it running.
pub struct EmbeddedPostgres {
    options: PgConnectOptions,
    /// `None` once stopped.
    running: Option<Running>,
}

/// A server this process uses, and its registration as a user.
struct Running {
    server: Server,
    locks: LockFiles,
    user: UserLock,
}

impl EmbeddedPostgres {
    /// Starts (or reuses) the cluster under `data_dir`, with the server binaries in `bin_dir` or, when
    /// that is `None`, the ones found on the machine; creates the `vibe` database if it is missing.
    pub async fn start(data_dir: &Path, bin_dir: Option<&Path>) -> anyhow::Result<Self> {
        let data_dir = data_dir.to_path_buf();
        let bin_dir = bin_dir.map(Path::to_path_buf);
        let running = tokio::task::spawn_blocking(move || start_server(&data_dir, bin_dir.as_deref()))
            .await
            .context("starting the embedded PostgreSQL cluster")??;
        let options = PgConnectOptions::new_without_pgpass()
            .socket(&running.server.layout.socket_dir)
            .port(PORT)
            .username(SUPERUSER)
            .database(DATABASE)
            .ssl_mode(PgSslMode::Disable)
            .application_name("vibe");
        let cluster = EmbeddedPostgres { options, running: Some(running) };
        // On failure `cluster` is dropped here, which stops the server again.
        create_database(&cluster.options).await?;
        Ok(cluster)
    }

    /// How to connect to the `vibe` database, as the cluster's superuser, over its socket.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    /// Stops the server, unless another `vibe` process still uses it. Close connections first.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        match self.running.take() {
            Some(running) => tokio::task::spawn_blocking(move || running.shutdown())
                .await
                .context("stopping the cluster")?,
            None => Ok(()),
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            tracing::warn!("the embedded PostgreSQL cluster was not stopped explicitly; stopping it now");
            if let Err(err) = running.shutdown() {
                tracing::error!(error = format!("{err:#}"), "stopping the embedded PostgreSQL cluster");
            }
        }
    }
}

impl Running {
    /// Leaves the cluster, stopping the server if this process was its last user.
    fn shutdown(self) -> anyhow::Result<()> {
        let control = self.locks.control()?;
        if !self.locks.leave(self.user, &control)? {
            tracing::info!(
                "another vibe process still uses the embedded PostgreSQL cluster; leaving it running"
            );
            return Ok(());
        }
        self.server.stop()?;
        tracing::info!(pgdata = %self.server.layout.pgdata.display(), "embedded PostgreSQL cluster stopped");
        Ok(())
    }
}

/// Everything of [`EmbeddedPostgres::start`] that blocks: directories, locks, `initdb`, `pg_ctl`.
fn start_server(data_dir: &Path, bin_dir: Option<&Path>) -> anyhow::Result<Running> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    // Absolute, symlinks resolved: the server needs an absolute data directory, and the socket path
    // limit applies to the real path.
    let data_dir = std::fs::canonicalize(data_dir)
        .with_context(|| format!("resolving the data directory {}", data_dir.display()))?;
    let cluster_dir = data_dir.join("postgres");
    std::fs::create_dir_all(&cluster_dir).with_context(|| format!("creating {}", cluster_dir.display()))?;
    let account = Account::select()?;
    account.own(&cluster_dir)?;
    set_private(&cluster_dir)?;
    account.check_reaches(&cluster_dir)?;

    let locks = LockFiles::new(&cluster_dir);
    let control = locks.control()?;
    let user = locks.register(&control)?;

    let layout = Layout::new(&cluster_dir);
    let cluster_major = std::fs::read_to_string(layout.pgdata.join("PG_VERSION"))
        .ok()
        .and_then(|text| binaries::major_version(&text));
    let bins = Binaries::find(bin_dir, cluster_major.as_deref())?;
    let version = bins.version()?;
    if let Some(cluster_major) = &cluster_major
        && binaries::major_version(&version).as_ref() != Some(cluster_major)
    {
        bail!(
            "the embedded cluster in {} was created by PostgreSQL {cluster_major}, but the server binaries \
             found ({}) are {version}, which cannot open it. Install PostgreSQL {cluster_major} (Debian/Ubuntu: \
             `apt-get install postgresql-{cluster_major}`) or point VIBE_POSTGRES_BIN at its bin directory, \
             or upgrade the cluster with pg_upgrade.",
            layout.pgdata.display(),
            bins.dir.display()
        );
    }
    tracing::info!(
        pgdata = %layout.pgdata.display(),
        binaries = %bins.dir.display(),
        %version,
        account = %account.name,
        "embedded PostgreSQL cluster"
    );

    let server = Server { account, bins, layout };
    if cluster_major.is_none() {
        if server.layout.pgdata.exists() {
            bail!(
                "{} exists but is not a PostgreSQL cluster (it has no PG_VERSION); move it away so that vibe \
                 can create the cluster there",
                server.layout.pgdata.display()
            );
        }
        server.initdb()?;
    }
    server.prepare_socket_dir()?;
    server.write_settings()?;
    match server.status()? {
        Status::Stopped => server.start()?,
        Status::Running { socket_dir } if socket_dir == server.layout.socket_dir => {
            tracing::info!("the embedded PostgreSQL server is already running; using it");
        }
        Status::Running { socket_dir } => {
            tracing::info!(old_socket_dir = %socket_dir.display(), "restarting the embedded PostgreSQL server on its new socket directory");
            server.stop()?;
            server.start()?;
        }
    }
    drop(control);
    Ok(Running { server, locks, user })
}

/// Makes `dir` accessible to its owner only.
fn set_private(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))
}

/// Creates the `vibe` database unless it exists, connecting through the `postgres` database.
async fn create_database(options: &PgConnectOptions) -> anyhow::Result<()> {
    let options = options.clone().database("postgres");
    let started = Instant::now();
    let mut connection = loop {
        match options.connect().await {
            Ok(connection) => break connection,
            // A reused server may still be recovering after the crash of the process that ran it.
            Err(err) if started.elapsed() < CONNECT_WAIT => {
                tracing::debug!(error = %err, "waiting for the embedded PostgreSQL server");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => return Err(err).context("connecting to the embedded PostgreSQL server"),
        }
    };
    let result = ensure_database(&mut connection).await;
    connection.close().await.ok();
    result
}

async fn ensure_database(connection: &mut PgConnection) -> anyhow::Result<()> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(DATABASE)
        .fetch_one(&mut *connection)
        .await
        .context("looking for the vibe database")?;
    if exists {
        return Ok(());
    }
    match sqlx::query(&format!("CREATE DATABASE {DATABASE}")).execute(&mut *connection).await {
        Ok(_) => {
            tracing::info!(database = DATABASE, "created the platform database");
            Ok(())
        }
        // Another vibe process starting at the same moment created it first.
        Err(sqlx::Error::Database(err)) if matches!(err.code().as_deref(), Some("42P04" | "23505")) => Ok(()),
        Err(err) => Err(err).context("creating the vibe database"),
    }
}
