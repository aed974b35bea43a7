//! Hostile SQL through app A's session: each attempt is refused or stopped, and app B's rows and
//! the platform's table are intact afterwards.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use vibe_apps_runtime::tenant::TenantSettings;

use crate::support::{Apps, code, eventually, settings, text, texts};

#[sqlx::test]
async fn role_switching_leads_nowhere(db: PgPool) {
    let apps = Apps::start(db).await;
    let mut a = apps.session(apps.a).await;
    let b_role = apps.role(apps.b);
    for sql in [
        format!("SET ROLE {b_role}"),
        "SET ROLE postgres".to_owned(),
        "SET SESSION AUTHORIZATION postgres".to_owned(),
        format!("SET SESSION AUTHORIZATION {b_role}"),
    ] {
        assert_eq!(code(a.execute(&sql, vec![]).await), "42501", "{sql}");
    }
    assert_eq!(code(a.query("SELECT set_config('role', 'postgres', false)", vec![]).await), "42501");
    assert_eq!(code(a.query("SELECT set_config('role', $1, false)", vec![text(&b_role)]).await), "42501");
    // RESET ROLE is allowed, and returns to the only role the connection ever had.
    a.execute("RESET ROLE", vec![]).await.unwrap();
    let who = a.query("SELECT current_user::text, session_user::text", vec![]).await.unwrap();
    assert_eq!(
        format!("{:?}", who.rows[0]),
        format!("{:?}", [text(&apps.role(apps.a)), text(&apps.role(apps.a))])
    );
    assert_eq!(code(a.query(&format!("SELECT * FROM {b_role}.t"), vec![]).await), "42501");
    drop(a);
    apps.assert_intact().await;
    apps.finish().await;
}

#[sqlx::test]
async fn other_apps_and_platform_tables_are_unreachable(db: PgPool) {
    let apps = Apps::start(db).await;
    let mut a = apps.session(apps.a).await;
    let b = apps.role(apps.b);
    for sql in [
        format!("SELECT * FROM {b}.t"),
        format!("SELECT * FROM \"{b}\".t"),
        format!("INSERT INTO {b}.t VALUES (2, 'planted')"),
        format!("UPDATE {b}.t SET secret = 'changed'"),
        format!("DROP TABLE {b}.t"),
        format!("CREATE TABLE {b}.planted (i int)"),
        "SELECT * FROM public.users".to_owned(),
        "UPDATE public.users SET email = 'attacker@example.com'".to_owned(),
        "ALTER TABLE public.users ADD COLUMN x int".to_owned(),
    ] {
        assert_eq!(code(a.execute(&sql, vec![]).await), "42501", "{sql}");
    }
    // Not on the search path either.
    assert_eq!(code(a.query("SELECT * FROM users", vec![]).await), "42P01");
    drop(a);
    apps.assert_intact().await;
    apps.finish().await;
}

#[sqlx::test]
async fn server_files_programs_and_objects_outside_the_schema_are_refused(db: PgPool) {
    let apps = Apps::start(db).await;
    let mut a = apps.session(apps.a).await;
    for sql in [
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_ls_dir('.')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_xact_lock(1)",
    ] {
        assert_eq!(code(a.query(sql, vec![]).await), "42501", "{sql}");
    }
    for sql in [
        "COPY t FROM PROGRAM 'id'",
        "COPY t TO PROGRAM 'cat > /tmp/vibe-escape'",
        "COPY t TO '/tmp/vibe-escape'",
        "CREATE TABLE public.x (i int)",
        "CREATE TEMP TABLE x (i int)",
        "CREATE TEMPORARY VIEW v AS SELECT 1",
        "CREATE SCHEMA planted",
        "CREATE EXTENSION hstore",
        "CREATE DATABASE planted",
        "CREATE ROLE planted",
    ] {
        assert_eq!(code(a.execute(sql, vec![]).await), "42501", "{sql}");
    }
    // Its own schema works as usual.
    a.execute("CREATE TABLE mine (i int)", vec![]).await.unwrap();
    drop(a);
    apps.assert_intact().await;
    apps.finish().await;
}

#[sqlx::test]
async fn altering_roles_gains_nothing(db: PgPool) {
    let apps = Apps::start(db).await;
    let mut a = apps.session(apps.a).await;
    let (a_role, b_role) = (apps.role(apps.a), apps.role(apps.b));
    for sql in [
        format!("ALTER ROLE {a_role} SUPERUSER"),
        format!("ALTER ROLE {a_role} CREATEROLE"),
        format!("ALTER ROLE {a_role} BYPASSRLS"),
        format!("ALTER ROLE {a_role} CONNECTION LIMIT -1"),
        format!("ALTER ROLE {b_role} PASSWORD 'taken'"),
        format!("ALTER ROLE {b_role} SET search_path = {a_role}"),
        format!("ALTER ROLE {b_role} RENAME TO planted"),
        format!("GRANT {b_role} TO {a_role}"),
        format!("GRANT pg_read_server_files TO {a_role}"),
    ] {
        assert_eq!(code(a.execute(&sql, vec![]).await), "42501", "{sql}");
    }
    // A role may change its own defaults; the host's connections start with their own settings.
    a.execute(&format!("ALTER ROLE {a_role} SET statement_timeout = 0"), vec![]).await.unwrap();
    a.execute(&format!("ALTER ROLE {a_role} SET search_path = {b_role}"), vec![]).await.unwrap();
    drop(a);
    let mut a = apps.session(apps.a).await;
    let settings = a
        .query("SELECT current_setting('statement_timeout'), current_setting('search_path')", vec![])
        .await
        .unwrap();
    assert_eq!(format!("{:?}", settings.rows[0]), format!("{:?}", [text("30s"), text(&a_role)]));
    assert_eq!(texts(&a.query("SELECT secret FROM t", vec![]).await.unwrap()), ["a-secret"]);
    drop(a);
    // Provisioning again puts the role's defaults back.
    apps.tenancy.provision(apps.a).await.unwrap();
    let config: Vec<String> =
        sqlx::query_scalar("SELECT unnest(rolconfig) FROM pg_roles WHERE rolname = $1 ORDER BY 1")
            .bind(&a_role)
            .fetch_all(&apps.admin)
            .await
            .unwrap();
    assert_eq!(config, [format!("search_path={a_role}"), "statement_timeout=30000".to_owned()]);
    apps.assert_intact().await;
    apps.finish().await;
}

#[sqlx::test]
async fn an_app_cannot_share_its_schema(db: PgPool) {
    let apps = Apps::start(db).await;
    let mut a = apps.session(apps.a).await;
    let (a_role, b_role) = (apps.role(apps.a), apps.role(apps.b));
    for sql in [
        format!("GRANT USAGE ON SCHEMA {a_role} TO PUBLIC"),
        "GRANT SELECT ON t TO PUBLIC".to_owned(),
        format!("GRANT ALL ON t TO {b_role}"),
        "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC".to_owned(),
        format!("GRANT {a_role} TO {b_role}"),
    ] {
        assert_eq!(code(a.execute(&sql, vec![]).await), "42501", "{sql}");
    }
    drop(a);
    let mut b = apps.session(apps.b).await;
    assert_eq!(code(b.query(&format!("SELECT * FROM {a_role}.t"), vec![]).await), "42501");
    assert_eq!(code(b.execute(&format!("SET ROLE {a_role}"), vec![]).await), "42501");
    drop(b);
    let members: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_auth_members WHERE member::regrole::text IN ($1, $2) OR roleid::regrole::text IN ($1, $2)",
    )
    .bind(&a_role)
    .bind(&b_role)
    .fetch_one(&apps.admin)
    .await
    .unwrap();
    assert_eq!(members, 0);
    apps.assert_intact().await;
    apps.finish().await;
}

#[sqlx::test]
async fn a_statement_past_the_call_deadline_is_ended_on_the_server(db: PgPool) {
    let apps =
        Apps::with(db, TenantSettings { call_timeout: Duration::from_millis(500), ..settings() }).await;
    let mut a = apps.session(apps.a).await;
    a.execute("SET statement_timeout = 0", vec![]).await.unwrap();
    let started = Instant::now();
    assert_eq!(code(a.query("SELECT pg_sleep(600)", vec![]).await), "timeout");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(eventually(|| async { apps.running(apps.a, "pg_sleep(600)").await == 0 }).await);
    // The session goes on, on a fresh connection with fresh settings.
    let timeout = a.query("SHOW statement_timeout", vec![]).await.unwrap();
    assert_eq!(texts(&timeout), ["30s"]);
    drop(a);
    apps.assert_intact().await;
    apps.finish().await;
}

#[sqlx::test]
async fn a_statement_whose_request_is_dropped_is_ended_on_the_server(db: PgPool) {
    let apps = Apps::start(db).await;
    let mut a = apps.session(apps.a).await;
    a.execute("SET statement_timeout = 0", vec![]).await.unwrap();
    // The request's deadline drops the call's future, then the session with the request.
    let call =
        tokio::time::timeout(Duration::from_millis(300), a.query("SELECT pg_sleep(600)", vec![])).await;
    assert!(call.is_err());
    assert!(eventually(|| async { apps.running(apps.a, "pg_sleep(600)").await == 1 }).await);
    drop(a);
    assert!(eventually(|| async { apps.running(apps.a, "pg_sleep(600)").await == 0 }).await);
    // A session kept after its call was dropped replaces the connection on its next call.
    let mut a = apps.session(apps.a).await;
    a.execute("SET statement_timeout = 0", vec![]).await.unwrap();
    let call =
        tokio::time::timeout(Duration::from_millis(300), a.query("SELECT pg_sleep(601)", vec![])).await;
    assert!(call.is_err());
    assert_eq!(texts(&a.query("SELECT 'still here'", vec![]).await.unwrap()), ["still here"]);
    assert_eq!(apps.running(apps.a, "pg_sleep(601)").await, 0);
    // A transaction does not silently survive: its work is gone, and the app must acknowledge.
    a.begin().await.unwrap();
    a.execute("INSERT INTO t VALUES (2, 'in the lost transaction')", vec![]).await.unwrap();
    let call =
        tokio::time::timeout(Duration::from_millis(300), a.query("SELECT pg_sleep(602)", vec![])).await;
    assert!(call.is_err());
    assert_eq!(code(a.execute("INSERT INTO t VALUES (3, 'outside it')", vec![]).await), "transaction-state");
    assert_eq!(code(a.commit().await), "transaction-state");
    assert_eq!(texts(&a.query("SELECT secret FROM t ORDER BY id", vec![]).await.unwrap()), ["a-secret"]);
    assert_eq!(apps.running(apps.a, "pg_sleep(602)").await, 0);
    drop(a);
    apps.assert_intact().await;
    apps.finish().await;
}

#[sqlx::test]
async fn many_connections_wait_or_fail_cleanly(db: PgPool) {
    let limits = TenantSettings {
        connections_per_app: 2,
        total_connections: 3,
        acquire_timeout: Duration::from_millis(300),
        ..settings()
    };
    let apps = Apps::with(db, limits).await;
    let limit: i32 = sqlx::query_scalar("SELECT rolconnlimit FROM pg_roles WHERE rolname = $1")
        .bind(apps.role(apps.a))
        .fetch_one(&apps.admin)
        .await
        .unwrap();
    assert_eq!(limit, 16);
    let (mut a1, mut a2, mut a3) =
        (apps.session(apps.a).await, apps.session(apps.a).await, apps.session(apps.a).await);
    a1.query("SELECT 1", vec![]).await.unwrap();
    a2.query("SELECT 1", vec![]).await.unwrap();
    // The app's own cap.
    assert_eq!(code(a3.query("SELECT 1", vec![]).await), "unavailable");
    let mut b1 = apps.session(apps.b).await;
    b1.query("SELECT 1", vec![]).await.unwrap();
    // The process-wide cap.
    let mut b2 = apps.session(apps.b).await;
    assert_eq!(code(b2.query("SELECT 1", vec![]).await), "unavailable");
    assert_eq!(apps.tenancy.open_connections(), 3);
    // A finished request's idle connection makes room for another app.
    drop(a1);
    let mut served = false;
    for _ in 0..50 {
        if b2.query("SELECT 1", vec![]).await.is_ok() {
            served = true;
            break;
        }
    }
    assert!(served);
    assert!(apps.tenancy.open_connections() <= 3);
    drop((a2, a3, b1, b2));
    apps.assert_intact().await;
    apps.finish().await;
}

#[sqlx::test]
async fn a_burst_of_requests_queues_for_the_apps_connections(db: PgPool) {
    let limits = TenantSettings {
        connections_per_app: 2,
        total_connections: 3,
        acquire_timeout: Duration::from_secs(20),
        ..settings()
    };
    let apps = Apps::with(db, limits).await;
    let burst: Vec<_> = (0..20)
        .map(|_| {
            let db = apps.tenancy.app_db(apps.a);
            tokio::spawn(async move {
                let mut session = db.session().await.unwrap();
                session.query("SELECT pg_sleep(0.02)", vec![]).await.map(drop)
            })
        })
        .collect();
    for task in burst {
        task.await.unwrap().unwrap();
    }
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE usename = $1")
        .bind(apps.role(apps.a))
        .fetch_one(&apps.admin)
        .await
        .unwrap();
    assert!(open <= 2, "{open} connections");
    assert!(apps.tenancy.open_connections() <= 3);
    apps.assert_intact().await;
    apps.finish().await;
}
