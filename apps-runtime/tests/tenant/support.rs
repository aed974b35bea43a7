//! Two provisioned apps, A and B, each with a table `t` holding one secret row, beside a
//! stand-in platform table `public.users` owned by the admin role.

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;
use vibe_apps_runtime::tenant::{Tenancy, TenantSettings, role_name};
use vibe_apps_runtime::{DbError, DbSession, DbValue, RowSet};

pub const SECRET: &[u8] = b"a platform secret for tests";

pub struct Apps {
    pub admin: PgPool,
    pub tenancy: Tenancy,
    pub a: Uuid,
    pub b: Uuid,
}

/// Settings for tests: short waits, so refusals come quickly.
pub fn settings() -> TenantSettings {
    TenantSettings {
        acquire_timeout: Duration::from_secs(3),
        call_timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

impl Apps {
    pub async fn start(admin: PgPool) -> Apps {
        Apps::with(admin, settings()).await
    }

    pub async fn with(admin: PgPool, settings: TenantSettings) -> Apps {
        sqlx::raw_sql(
            "CREATE TABLE public.users (id int8 PRIMARY KEY, email text NOT NULL);
             INSERT INTO public.users VALUES (1, 'owner@example.com');",
        )
        .execute(&admin)
        .await
        .unwrap();
        let tenancy = Tenancy::new(admin.clone(), SECRET, settings);
        let apps = Apps { admin, tenancy, a: Uuid::new_v4(), b: Uuid::new_v4() };
        for (app, secret) in [(apps.a, "a-secret"), (apps.b, "b-secret")] {
            apps.tenancy.provision(app).await.unwrap();
            let mut s = apps.session(app).await;
            s.execute("CREATE TABLE t (id int8 PRIMARY KEY, secret text NOT NULL)", vec![]).await.unwrap();
            s.execute("INSERT INTO t VALUES (1, $1)", vec![text(secret)]).await.unwrap();
        }
        apps
    }

    pub async fn session(&self, app: Uuid) -> Box<dyn DbSession> {
        self.tenancy.app_db(app).session().await.unwrap()
    }

    pub fn role(&self, app: Uuid) -> String {
        role_name(app)
    }

    /// B's row, read by B, is what it was; and nobody changed the platform's table.
    pub async fn assert_intact(&self) {
        let mut b = self.session(self.b).await;
        let rows = b.query("SELECT secret FROM t ORDER BY id", vec![]).await.unwrap();
        assert_eq!(texts(&rows), ["b-secret"]);
        let emails: Vec<String> =
            sqlx::query_scalar("SELECT email FROM public.users").fetch_all(&self.admin).await.unwrap();
        assert_eq!(emails, ["owner@example.com"]);
    }

    /// Removes both apps (roles outlive the test database).
    pub async fn finish(self) {
        self.tenancy.deprovision(self.a).await.unwrap();
        self.tenancy.deprovision(self.b).await.unwrap();
    }

    /// Backends of `app` running a statement that contains `needle`.
    pub async fn running(&self, app: Uuid, needle: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND state = 'active' AND strpos(query, $2) > 0",
        )
        .bind(self.role(app))
        .bind(needle)
        .fetch_one(&self.admin)
        .await
        .unwrap()
    }
}

impl Drop for Apps {
    /// A failed test still removes its roles, which would otherwise outlive it in the cluster.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let (options, apps) = ((*self.admin.connect_options()).clone(), [self.a, self.b]);
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let admin = PgPool::connect_with(options).await.unwrap();
                let tenancy = Tenancy::new(admin, SECRET, settings());
                for app in apps {
                    let _ = tenancy.deprovision(app).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

pub fn text(s: &str) -> DbValue {
    DbValue::Text(s.to_owned())
}

/// The first column of every row, as text.
pub fn texts(rows: &RowSet) -> Vec<String> {
    rows.rows
        .iter()
        .map(|row| match &row[0] {
            DbValue::Text(s) => s.clone(),
            other => panic!("expected text, got {other:?}"),
        })
        .collect()
}

/// The SQLSTATE of an SQL error, or the error's kind.
pub fn code<T: std::fmt::Debug>(result: Result<T, DbError>) -> String {
    match result {
        Err(DbError::Sql(error)) => error.sqlstate,
        Err(DbError::Timeout) => "timeout".to_owned(),
        Err(DbError::TransactionState(_)) => "transaction-state".to_owned(),
        Err(DbError::TooLarge(_)) => "too-large".to_owned(),
        Err(DbError::UnsupportedType(_)) => "unsupported-type".to_owned(),
        Err(DbError::Unavailable(_)) => "unavailable".to_owned(),
        Ok(value) => format!("ok: {value:?}"),
    }
}

/// Waits up to five seconds for `check` to hold.
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
