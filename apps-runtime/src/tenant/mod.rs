//! Tenant databases: each app's data in its own PostgreSQL schema, reached only through
//! connections logged in as the app's own role (ARCHITECTURE.md, decision 4).
//!
//! [`Tenancy`] holds the platform's admin pool. It hardens the database once (`provision.rs`:
//! `CREATE` on `public` and `TEMPORARY` on the database taken from `PUBLIC`, so neither platform
//! tables nor scratch space are reachable by an app), creates and drops each app's schema and
//! role, and hands out one [`AppDb`] per app. Those run the app's SQL over a small pool of
//! connections per app (`pool.rs`) as one session per request (`session.rs`), with typed
//! parameters and rows (`values.rs`).
//!
//! What isolates an app is PostgreSQL's privilege system, not the host's trust in the SQL:
//! - The app's role `app_<id>` is a member of no role, so `SET ROLE`, `RESET ROLE` and
//!   `set_config('role', …)` lead nowhere; it is no superuser and cannot create roles, databases,
//!   schemas, extensions, temporary tables or objects outside its schema; server files and
//!   programs (`pg_read_file`, `COPY … PROGRAM`, server-side `lo_import`) need privileges it lacks.
//! - Another app's schema is owned by another role that grants nothing, and `PUBLIC` holds no
//!   privilege on any platform schema, so neither is reachable by name.
//! - A role may change its own session defaults and password (`ALTER ROLE CURRENT_USER …`);
//!   neither reaches another app. Host connections pass their settings at startup, which
//!   outranks the role's defaults, and provisioning again restores the role.
//! - The app can `SET statement_timeout = 0`, so the host never relies on it: a statement still
//!   running when the request's future is dropped, or when the per-call deadline passes, is
//!   ended on the server by the admin pool (`pg_terminate_backend` of the connection's backend,
//!   which also cancels the statement), and that connection is discarded.
//! - Between requests a connection is rolled back and `DISCARD ALL`ed (settings, prepared
//!   statements, `LISTEN`s, advisory locks), so nothing of one request reaches the next.
//!
//! An app owns its schema, so PostgreSQL would let it `GRANT` its own tables to `PUBLIC` and
//! thereby to every other app. That can only ever give away the granting app's own data, which
//! the app could publish over HTTP anyway, so it is no escape; but a generated app doing it by
//! mistake would expose its users' data to every other app. So when the platform role is a
//! superuser, an event trigger refuses `GRANT` and `ALTER DEFAULT PRIVILEGES` from app roles, and
//! provisioning strips any role membership. No app's role ever reads another app's schema.
//!
//! Known limits, PostgreSQL's own: the catalogs are readable by every role, so an app can list
//! other apps' role names and table definitions (never their rows); `NOTIFY` needs no privilege
//! (the event bus only trusts ids it reads back from its own table); disk use is not capped.

mod pool;
mod provision;
mod secret;
mod session;
mod values;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::bindings::db::Error as DbError;
use crate::db::{AppDb, DbSession};
use pool::Shared;
use secret::PlatformSecret;
use session::TenantSession;

pub use provision::{drop_orphaned_roles, role_name, schema_name};

/// How tenant connections are pooled and limited.
#[derive(Clone, Debug)]
pub struct TenantSettings {
    /// Connections one app may have open in this process.
    pub connections_per_app: u32,
    /// `CONNECTION LIMIT` of each app's role: the cap across every process of a cluster.
    pub role_connection_limit: u32,
    /// Tenant connections this process may have open across all apps.
    pub total_connections: u32,
    /// How long a request waits for a connection before `unavailable`.
    pub acquire_timeout: Duration,
    /// An idle connection is closed after this long; an app's pool goes with its last connection.
    pub idle_timeout: Duration,
    /// The server-side `statement_timeout` a connection starts with (the app may change it).
    pub statement_timeout: Duration,
    /// The host-side deadline of one call; past it the statement is ended on the server.
    pub call_timeout: Duration,
    /// The most bytes of row data one query may return.
    pub max_result_bytes: usize,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            connections_per_app: 4,
            role_connection_limit: 16,
            total_connections: 64,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            statement_timeout: Duration::from_secs(30),
            call_timeout: Duration::from_secs(30),
            max_result_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Why provisioning failed. Sessions report their errors as [`DbError`] to the app instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TenantError {
    /// The database refused or failed a statement.
    #[error("{context}: {source}")]
    Database {
        /// What we were doing.
        context: &'static str,
        /// What the database said.
        source: sqlx::Error,
    },
    /// The database still lets `PUBLIC` create objects or reach platform tables, and the platform
    /// role may not change that.
    #[error("the database is not safe for app data: {0}")]
    NotHardened(String),
}

impl TenantError {
    fn database(context: &'static str) -> impl FnOnce(sqlx::Error) -> TenantError {
        move |source| TenantError::Database { context, source }
    }
}

/// Every app's database, on the platform's PostgreSQL. Cheap to clone.
#[derive(Clone)]
pub struct Tenancy {
    shared: Arc<Shared>,
    prepared: Arc<OnceCell<()>>,
}

impl Tenancy {
    /// Tenancy over `admin`, the platform's pool. Its role should be a superuser (the embedded
    /// cluster's is); otherwise it needs `CREATEROLE`, `pg_signal_backend` and ownership of the
    /// database, and the guard against grants by apps is not installed. `secret` derives each app
    /// role's password, so none is stored; keep it stable across restarts. App connections use
    /// `admin`'s connect options with the app's user name and password. Needs a Tokio runtime: it
    /// starts the task that closes idle connections.
    pub fn new(admin: PgPool, secret: &[u8], settings: TenantSettings) -> Self {
        let shared = Shared::new(admin, PlatformSecret::new(secret), settings);
        Tenancy { shared, prepared: Arc::new(OnceCell::new()) }
    }

    /// The database of one app, for its [`crate::Capabilities`]. The app must be provisioned
    /// before its sessions can connect.
    pub fn app_db(&self, app_id: Uuid) -> Arc<dyn AppDb> {
        Arc::new(TenantDb { shared: self.shared.clone(), app_id })
    }

    /// Tenant connections open in this process (idle or in use), across all apps.
    pub fn open_connections(&self) -> usize {
        self.shared.open_connections()
    }
}

impl std::fmt::Debug for Tenancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenancy")
            .field("settings", &self.shared.settings)
            .field("open_connections", &self.open_connections())
            .finish_non_exhaustive()
    }
}

/// One app's database: sessions over connections logged in as the app's role.
struct TenantDb {
    shared: Arc<Shared>,
    app_id: Uuid,
}

#[async_trait]
impl AppDb for TenantDb {
    async fn session(&self) -> Result<Box<dyn DbSession>, DbError> {
        Ok(Box::new(TenantSession::new(self.shared.clone(), self.app_id)))
    }
}
