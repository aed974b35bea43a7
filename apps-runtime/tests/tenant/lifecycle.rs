//! Provisioning, hardening and deprovisioning, seen in the catalogs.

use std::time::Duration;

use sqlx::PgPool;
use vibe_apps_runtime::tenant::{Tenancy, TenantError, TenantSettings, schema_name};

use crate::support::{Apps, SECRET, code, eventually, settings, texts};

#[sqlx::test]
async fn an_app_role_has_nothing_but_its_schema(db: PgPool) {
    let apps = Apps::start(db).await;
    let role = apps.role(apps.a);
    let (superuser, inherit, create_role, create_db, replication, bypass_rls, login, members, owner): (
        bool,
        bool,
        bool,
        bool,
        bool,
        bool,
        bool,
        i64,
        String,
    ) = sqlx::query_as(
        "SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin,
                (SELECT count(*) FROM pg_auth_members WHERE member = r.oid),
                (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $2)
         FROM pg_roles r WHERE rolname = $1",
    )
    .bind(&role)
    .bind(schema_name(apps.a))
    .fetch_one(&apps.admin)
    .await
    .unwrap();
    assert!(!superuser && !inherit && !create_role && !create_db && !replication && !bypass_rls && login);
    assert_eq!((members, owner), (0, role.clone()));
    // The password is stored only as a SCRAM verifier.
    let verifier: String = sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
        .bind(&role)
        .fetch_one(&apps.admin)
        .await
        .unwrap();
    assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
    // PUBLIC may create nothing and keep nothing temporary in the database.
    let public: Vec<String> = sqlx::query_scalar(
        "SELECT a.privilege_type FROM pg_database d,
                aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
         WHERE d.datname = current_database() AND a.grantee = 0 ORDER BY 1",
    )
    .fetch_all(&apps.admin)
    .await
    .unwrap();
    assert_eq!(public, ["CONNECT"]);
    apps.finish().await;
}

#[sqlx::test]
async fn provisioning_again_keeps_the_data_and_deprovisioning_removes_it(db: PgPool) {
    let apps = Apps::start(db).await;
    apps.tenancy.provision(apps.a).await.unwrap();
    let mut a = apps.session(apps.a).await;
    assert_eq!(texts(&a.query("SELECT secret FROM t", vec![]).await.unwrap()), ["a-secret"]);
    drop(a);

    apps.tenancy.deprovision(apps.a).await.unwrap();
    let role = apps.role(apps.a);
    let left: (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1), EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)",
    )
    .bind(&role)
    .fetch_one(&apps.admin)
    .await
    .unwrap();
    assert_eq!(left, (false, false));
    let mut a = apps.session(apps.a).await;
    assert_eq!(code(a.query("SELECT 1", vec![]).await), "unavailable");
    drop(a);
    // Dropping twice is fine; the other app is untouched.
    apps.tenancy.deprovision(apps.a).await.unwrap();
    apps.assert_intact().await;
    apps.finish().await;
}

#[sqlx::test]
async fn deprovisioning_ends_sessions_and_drops_large_objects(db: PgPool) {
    let apps = Apps::start(db).await;
    let mut a = apps.session(apps.a).await;
    let object = a.query("SELECT lo_from_bytea(0, 'kept outside the schema')::int8", vec![]).await.unwrap();
    assert_eq!(object.rows.len(), 1);
    // A request still holding a connection.
    a.query("SELECT 1", vec![]).await.unwrap();
    apps.tenancy.deprovision(apps.a).await.unwrap();
    assert_eq!(code(a.query("SELECT 1", vec![]).await), "unavailable");
    drop(a);
    let objects: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_largeobject_metadata")
        .fetch_one(&apps.admin)
        .await
        .unwrap();
    assert_eq!(objects, 0);
    apps.finish().await;
}

#[sqlx::test]
async fn a_database_exposing_platform_tables_is_refused(db: PgPool) {
    sqlx::raw_sql(
        "CREATE SCHEMA platform; GRANT USAGE ON SCHEMA platform TO PUBLIC;
         CREATE TABLE platform.sessions (token text); GRANT SELECT ON platform.sessions TO PUBLIC;",
    )
    .execute(&db)
    .await
    .unwrap();
    let tenancy = Tenancy::new(db.clone(), SECRET, settings());
    match tenancy.prepare().await {
        Err(TenantError::NotHardened(message)) => assert!(message.contains("platform.sessions"), "{message}"),
        other => panic!("expected NotHardened, got {other:?}"),
    }
    sqlx::raw_sql("REVOKE ALL ON platform.sessions FROM PUBLIC").execute(&db).await.unwrap();
    tenancy.prepare().await.unwrap();
}

#[sqlx::test]
async fn idle_connections_are_closed_after_the_idle_timeout(db: PgPool) {
    let apps =
        Apps::with(db, TenantSettings { idle_timeout: Duration::from_millis(300), ..settings() }).await;
    let mut a = apps.session(apps.a).await;
    a.query("SELECT 1", vec![]).await.unwrap();
    drop(a);
    assert!(eventually(|| async { apps.tenancy.open_connections() == 0 }).await);
    let backends: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE usename IN ($1, $2)")
        .bind(apps.role(apps.a))
        .bind(apps.role(apps.b))
        .fetch_one(&apps.admin)
        .await
        .unwrap();
    assert_eq!(backends, 0);
    // The app's next request simply opens a new one.
    let mut a = apps.session(apps.a).await;
    assert_eq!(texts(&a.query("SELECT secret FROM t", vec![]).await.unwrap()), ["a-secret"]);
    drop(a);
    apps.finish().await;
}
