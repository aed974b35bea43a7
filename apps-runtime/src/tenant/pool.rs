//! Connections logged in as app roles: a small pool per active app under a cap for the whole
//! process, and the one way a connection leaves a request (a [`Lease`]): reset and kept, or, if a
//! statement may still be running, ended on the server and thrown away.
//!
//! Each open connection holds a permit of the process-wide semaphore; when it is exhausted, the
//! oldest idle connection of any app is closed to make room, and otherwise the request waits (up
//! to `acquire_timeout`). Per app, a semaphore bounds the connections in use; idle ones wait in a
//! short stack and are closed after `idle_timeout` by a background task, which also forgets the
//! pools of apps with nothing open.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use uuid::Uuid;

use super::TenantSettings;
use super::provision::role_name;
use super::secret::PlatformSecret;
use crate::bindings::db::Error as DbError;

/// How long resetting a released connection may take before it is thrown away instead.
const RESET_TIMEOUT: Duration = Duration::from_secs(5);
/// How long ending a backend may wait for it to exit (PostgreSQL 14 and later).
const TERMINATE_WAIT_MS: i64 = 2_000;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data stays consistent at every point a panic could occur.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What every app's pool shares.
pub(super) struct Shared {
    pub(super) admin: PgPool,
    base: PgConnectOptions,
    pub(super) secret: PlatformSecret,
    pub(super) settings: TenantSettings,
    pools: Mutex<HashMap<Uuid, Arc<AppPool>>>,
    global: Arc<Semaphore>,
}

/// One app's connections.
pub(super) struct AppPool {
    pub(super) role: String,
    options: PgConnectOptions,
    in_use: Arc<Semaphore>,
    idle: Mutex<VecDeque<Conn>>,
    closed: AtomicBool,
}

/// An open connection, logged in as an app's role.
pub(super) struct Conn {
    raw: PgConnection,
    /// Its backend's process id, for ending it from the admin pool.
    pid: i32,
    idle_since: Instant,
    _global: OwnedSemaphorePermit,
}

impl Shared {
    pub(super) fn new(admin: PgPool, secret: PlatformSecret, settings: TenantSettings) -> Arc<Self> {
        let total = usize::try_from(settings.total_connections).unwrap_or(usize::MAX).max(1);
        let shared = Arc::new(Shared {
            base: (*admin.connect_options()).clone(),
            admin,
            secret,
            settings,
            pools: Mutex::new(HashMap::new()),
            global: Arc::new(Semaphore::new(total)),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(reap(Arc::downgrade(&shared)));
        }
        shared
    }

    /// Tenant connections open in this process.
    pub(super) fn open_connections(&self) -> usize {
        let total = usize::try_from(self.settings.total_connections).unwrap_or(usize::MAX).max(1);
        total.saturating_sub(self.global.available_permits())
    }

    fn app_pool(&self, app_id: Uuid) -> Arc<AppPool> {
        let mut pools = lock(&self.pools);
        let pool = pools.entry(app_id).or_insert_with(|| {
            let role = role_name(app_id);
            let options = self
                .base
                .clone()
                .username(&role)
                .password(&self.secret.password(app_id))
                .application_name("vibe-app")
                // Nothing of sqlx's is prepared server-side, so `DISCARD ALL` can clear the rest.
                .statement_cache_capacity(0)
                // Startup settings outrank the role's defaults, which the app itself may change,
                // and are what `DISCARD ALL` returns to. Notices stay on the server: an app
                // raising warnings in a loop must not flood the host's logs.
                .options([
                    ("search_path", role.clone()),
                    ("statement_timeout", self.settings.statement_timeout.as_millis().max(1).to_string()),
                    ("client_min_messages", "error".to_owned()),
                ]);
            let per_app = usize::try_from(self.settings.connections_per_app).unwrap_or(usize::MAX).max(1);
            Arc::new(AppPool {
                role,
                options,
                in_use: Arc::new(Semaphore::new(per_app)),
                idle: Mutex::new(VecDeque::new()),
                closed: AtomicBool::new(false),
            })
        });
        pool.clone()
    }

    /// A connection for one request of the app: an idle one, or a new one.
    pub(super) async fn acquire(self: &Arc<Self>, app_id: Uuid) -> Result<Lease, DbError> {
        let pool = self.app_pool(app_id);
        let wait = self.settings.acquire_timeout;
        let acquired = tokio::time::timeout(wait, async {
            let permit = pool.in_use.clone().acquire_owned().await.map_err(|_| closed())?;
            if let Some(conn) = pool.take_idle() {
                return Ok((permit, conn));
            }
            let global = self.global_permit().await?;
            let conn = open(&pool, global).await?;
            Ok::<_, DbError>((permit, conn))
        })
        .await;
        let (permit, conn) = acquired.map_err(|_| {
            DbError::Unavailable(format!(
                "no database connection became free within {} ms; too many requests use the database at once",
                wait.as_millis()
            ))
        })??;
        Ok(Lease { conn: Some(conn), busy: false, pool, shared: self.clone(), in_use: Some(permit) })
    }

    /// A permit of the process-wide cap, closing idle connections of other apps to make room.
    async fn global_permit(&self) -> Result<OwnedSemaphorePermit, DbError> {
        loop {
            match self.global.clone().try_acquire_owned() {
                Ok(permit) => return Ok(permit),
                Err(TryAcquireError::Closed) => return Err(closed()),
                Err(TryAcquireError::NoPermits) => {}
            }
            if self.evict_oldest_idle() {
                continue;
            }
            tokio::select! {
                permit = self.global.clone().acquire_owned() => return permit.map_err(|_| closed()),
                () = tokio::time::sleep(Duration::from_millis(25)) => {}
            }
        }
    }

    /// Closes the idle connection that has waited longest, of any app. Whether there was one.
    fn evict_oldest_idle(&self) -> bool {
        let pools: Vec<Arc<AppPool>> = lock(&self.pools).values().cloned().collect();
        let oldest = pools
            .iter()
            .filter_map(|pool| lock(&pool.idle).front().map(|conn| (conn.idle_since, pool)))
            .min_by_key(|(since, _)| *since)
            .map(|(_, pool)| pool);
        match oldest.and_then(|pool| lock(&pool.idle).pop_front()) {
            Some(conn) => {
                close_soon(conn);
                true
            }
            None => false,
        }
    }

    /// Forgets the app's pool and closes its idle connections (deprovisioning).
    pub(super) async fn close_pool(&self, app_id: Uuid) {
        let Some(pool) = lock(&self.pools).remove(&app_id) else { return };
        pool.closed.store(true, Ordering::SeqCst);
        let idle: Vec<Conn> = lock(&pool.idle).drain(..).collect();
        for conn in idle {
            close(conn).await;
        }
    }

    /// Ends backend `pid` if it still belongs to `role`: its statement stops, its connection
    /// closes. Runs from the admin pool, because the app can disable its own `statement_timeout`.
    pub(super) async fn terminate(&self, pid: i32, role: &str) {
        let result = async {
            let mut admin = self.admin.acquire().await?;
            // Since PostgreSQL 14 the call can wait for the backend to be gone.
            let query = if admin.server_version_num().unwrap_or(0) >= 140_000 {
                sqlx::query(
                    "SELECT pg_catalog.pg_terminate_backend(pid, $3) FROM pg_catalog.pg_stat_activity \
                     WHERE pid = $1 AND usename = $2",
                )
                .bind(pid)
                .bind(role)
                .bind(TERMINATE_WAIT_MS)
            } else {
                sqlx::query(
                    "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity \
                     WHERE pid = $1 AND usename = $2",
                )
                .bind(pid)
                .bind(role)
            };
            query.execute(&mut *admin).await
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, pid, role, "cannot end an app's database backend");
        }
    }

    /// Closes connections idle for longer than `idle_timeout`, and forgets pools with nothing
    /// open and nobody using them.
    fn sweep(&self) -> Vec<Conn> {
        let mut expired = Vec::new();
        let mut pools = lock(&self.pools);
        for pool in pools.values() {
            let mut idle = lock(&pool.idle);
            while idle.front().is_some_and(|conn| conn.idle_since.elapsed() >= self.settings.idle_timeout) {
                expired.extend(idle.pop_front());
            }
        }
        // A lease or a connection being reset holds a clone, so a count of one means unused.
        pools.retain(|_, pool| Arc::strong_count(pool) > 1 || !lock(&pool.idle).is_empty());
        expired
    }
}

impl AppPool {
    fn take_idle(&self) -> Option<Conn> {
        // The most recently used first: the others age out when the app is quiet.
        lock(&self.idle).pop_back()
    }

    /// Keeps a reset connection for the app's next request, or gives it back to be closed.
    fn put_idle(&self, mut conn: Conn, max_idle: usize) -> Option<Conn> {
        if self.closed.load(Ordering::SeqCst) {
            return Some(conn);
        }
        let mut idle = lock(&self.idle);
        if idle.len() >= max_idle {
            return Some(conn);
        }
        conn.idle_since = Instant::now();
        idle.push_back(conn);
        None
    }
}

fn closed() -> DbError {
    DbError::Unavailable("the app's database is shutting down".to_owned())
}

/// Opens a connection as the app's role and learns its backend's process id.
async fn open(pool: &AppPool, global: OwnedSemaphorePermit) -> Result<Conn, DbError> {
    let connected = async {
        let mut raw = PgConnection::connect_with(&pool.options).await?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_catalog.pg_backend_pid()")
            .persistent(false)
            .fetch_one(&mut raw)
            .await?;
        Ok::<_, sqlx::Error>(Conn { raw, pid, idle_since: Instant::now(), _global: global })
    };
    connected.await.map_err(|error| {
        tracing::warn!(%error, role = %pool.role, "cannot connect as an app's role");
        DbError::Unavailable(match error.as_database_error() {
            Some(database) => format!("cannot connect to the app's database: {}", database.message()),
            None => "cannot connect to the app's database".to_owned(),
        })
    })
}

/// Closes a connection politely; its permit is returned once it is closed.
async fn close(conn: Conn) {
    let Conn { raw, _global: permit, .. } = conn;
    let _ = raw.close().await;
    drop(permit);
}

/// Returns the connection's permit now and closes it in the background.
fn close_soon(conn: Conn) {
    let Conn { raw, _global: permit, .. } = conn;
    drop(permit);
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = raw.close().await;
        });
    }
}

/// Undoes whatever a request left on its connection: an open or failed transaction, settings,
/// prepared statements, cursors, `LISTEN`s, advisory locks.
async fn reset(raw: &mut PgConnection) -> Result<(), sqlx::Error> {
    // Notices are off, so `ROLLBACK` outside a transaction stays quiet. `DISCARD ALL` may not run
    // inside one, hence two statements.
    raw.execute("ROLLBACK").await?;
    raw.execute("DISCARD ALL").await?;
    Ok(())
}

async fn reap(shared: Weak<Shared>) {
    let period = match shared.upgrade() {
        Some(shared) => {
            (shared.settings.idle_timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(30))
        }
        None => return,
    };
    loop {
        tokio::time::sleep(period).await;
        let Some(shared) = shared.upgrade() else { return };
        let expired = shared.sweep();
        drop(shared);
        for conn in expired {
            close(conn).await;
        }
    }
}

/// One request's connection. Dropped idle, it is reset and returned to the app's pool in the
/// background; dropped busy (a statement's future was dropped mid-way), its backend is ended on
/// the server and it is thrown away.
pub(super) struct Lease {
    conn: Option<Conn>,
    busy: bool,
    pool: Arc<AppPool>,
    shared: Arc<Shared>,
    in_use: Option<OwnedSemaphorePermit>,
}

impl Lease {
    /// The connection, for one statement: until [`Lease::done`], the lease counts as busy.
    pub(super) fn start(&mut self) -> Result<&mut PgConnection, DbError> {
        self.busy = true;
        self.conn
            .as_mut()
            .map(|conn| &mut conn.raw)
            .ok_or_else(|| DbError::Unavailable("no connection".to_owned()))
    }

    /// The statement finished; the connection is idle again.
    pub(super) fn done(&mut self) {
        self.busy = false;
    }

    /// Whether a statement was started and never finished.
    pub(super) fn is_busy(&self) -> bool {
        self.busy
    }

    /// Ends the connection's backend on the server, then closes it.
    pub(super) async fn kill(mut self) {
        if let Some(conn) = self.conn.take() {
            self.shared.terminate(conn.pid, &self.pool.role).await;
            drop(conn);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        // Without a runtime the connection just closes, and the server rolls back.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (shared, pool, permit, busy) =
            (self.shared.clone(), self.pool.clone(), self.in_use.take(), self.busy);
        runtime.spawn(async move {
            let reset = !busy
                && matches!(tokio::time::timeout(RESET_TIMEOUT, reset(&mut conn.raw)).await, Ok(Ok(())));
            if reset {
                let max_idle = usize::try_from(shared.settings.connections_per_app).unwrap_or(usize::MAX);
                if let Some(extra) = pool.put_idle(conn, max_idle) {
                    close(extra).await;
                }
            } else {
                shared.terminate(conn.pid, &pool.role).await;
                drop(conn);
            }
            // Only now may the app's next request take its place.
            drop(permit);
        });
    }
}
