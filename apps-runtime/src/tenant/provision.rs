//! Hardening the database once, and creating and dropping each app's role and schema.
//!
//! Names come only from the app's UUID (`app_<32 hex digits>`) and are quoted all the same. Every
//! step is idempotent: provisioning an existing app repairs it (attributes, settings, password,
//! memberships, schema owner and grants), so it is also the cure for an app that changed its own
//! role's defaults.

use std::time::{Duration, Instant};

use sqlx::{Executor, PgConnection};
use uuid::Uuid;

use super::{Tenancy, TenantError};

/// The schema holding the platform's guard against grants by apps; `PUBLIC` may not use it.
const GUARD_SCHEMA: &str = "vibe_tenancy";

/// Refuses `GRANT` and `ALTER DEFAULT PRIVILEGES` from app roles (see the module doc of `tenant`).
/// It runs with the app's privileges, so it pins its `search_path` against an app's own operators.
const GUARD_FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION vibe_tenancy.refuse_app_grants() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_user ~ '^app_[0-9a-f]{32}$' THEN
        RAISE EXCEPTION 'an app cannot grant privileges: its data is reachable only by its own role'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$"#;

/// What each app role's comment says, followed by its database's name: roles are shared by the
/// whole cluster, so this is how a role left behind by a dropped database is found
/// ([`drop_orphaned_roles`]).
const ROLE_COMMENT: &str = "vibe app role of database ";

/// How long deprovisioning waits for the app's backends to end.
const TERMINATE_WAIT: Duration = Duration::from_secs(5);

/// The role an app's connections log in as: `app_<id as 32 hex digits>`.
pub fn role_name(app_id: Uuid) -> String {
    format!("app_{}", app_id.simple())
}

/// The schema holding an app's data; it has the role's name.
pub fn schema_name(app_id: Uuid) -> String {
    role_name(app_id)
}

/// `name` as an SQL identifier.
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as an SQL string literal.
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A lock key serialising provisioning of one app (or, for `None`, hardening) across processes.
fn lock_key(app_id: Option<Uuid>) -> String {
    match app_id {
        Some(id) => format!("vibe-tenancy:{id}"),
        None => "vibe-tenancy".to_owned(),
    }
}

async fn lock(conn: &mut PgConnection, app_id: Option<Uuid>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended($1, 0))")
        .bind(lock_key(app_id))
        .execute(&mut *conn)
        .await
        .map(drop)
}

async fn run(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    conn.execute(sql).await.map(drop)
}

impl Tenancy {
    /// Hardens the database for app data, once per [`Tenancy`] (provisioning calls it): takes
    /// `CREATE` and `TEMPORARY` on the database and every privilege on schema `public` from
    /// `PUBLIC`, after granting the platform role what it used through `PUBLIC`. As a superuser,
    /// also installs the guard against grants by apps and takes the database-wide advisory locks
    /// from `PUBLIC` (an app holding one could stall the platform's own). Then checks the result.
    pub async fn prepare(&self) -> Result<(), TenantError> {
        self.prepared.get_or_try_init(|| self.harden()).await.map(drop)
    }

    async fn harden(&self) -> Result<(), TenantError> {
        let mut tx =
            self.shared.admin.begin().await.map_err(TenantError::database("opening a transaction"))?;
        lock(&mut tx, None).await.map_err(TenantError::database("locking the tenancy"))?;
        let (database, superuser): (String, bool) = sqlx::query_as(
            "SELECT pg_catalog.current_database()::text, rolsuper FROM pg_catalog.pg_roles \
             WHERE rolname = current_user",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(TenantError::database("reading the platform role"))?;
        let database = quote_ident(&database);
        let public_exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'public')",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(TenantError::database("looking for schema public"))?;
        let mut statements = Vec::new();
        if !superuser {
            statements
                .push(format!("GRANT CONNECT, TEMPORARY, CREATE ON DATABASE {database} TO CURRENT_USER"));
            if public_exists {
                statements.push("GRANT USAGE, CREATE ON SCHEMA public TO CURRENT_USER".to_owned());
            }
        }
        statements.push(format!("REVOKE CREATE, TEMPORARY ON DATABASE {database} FROM PUBLIC"));
        if public_exists {
            statements.push("REVOKE ALL ON SCHEMA public FROM PUBLIC".to_owned());
        }
        if superuser {
            statements.push(format!("CREATE SCHEMA IF NOT EXISTS {GUARD_SCHEMA}"));
            statements.push(format!("REVOKE ALL ON SCHEMA {GUARD_SCHEMA} FROM PUBLIC"));
            statements.push(GUARD_FUNCTION.to_owned());
            statements.push(
                "DO $$ BEGIN \
                 IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'vibe_refuse_app_grants') THEN \
                 CREATE EVENT TRIGGER vibe_refuse_app_grants ON ddl_command_start \
                 WHEN TAG IN ('GRANT', 'ALTER DEFAULT PRIVILEGES') \
                 EXECUTE FUNCTION vibe_tenancy.refuse_app_grants(); \
                 END IF; END $$"
                    .to_owned(),
            );
            let advisory: Vec<String> = sqlx::query_scalar(
                "SELECT oid::regprocedure::text FROM pg_catalog.pg_proc \
                 WHERE pronamespace = 'pg_catalog'::regnamespace AND proname LIKE 'pg\\_%advisory\\_%'",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(TenantError::database("listing the advisory lock functions"))?;
            for function in advisory {
                statements.push(format!("REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC"));
            }
        }
        for statement in &statements {
            run(&mut tx, statement).await.map_err(TenantError::database("hardening the database"))?;
        }
        check_hardened(&mut tx).await?;
        tx.commit().await.map_err(TenantError::database("committing the hardening"))
    }

    /// Creates (or repairs) the app's role and schema: a `LOGIN` role that is a member of no
    /// role, `NOINHERIT`, with no attribute beyond logging in, a connection limit, its schema as
    /// `search_path`, a default `statement_timeout`, and its derived password; a schema of the
    /// same name that it owns and that grants nothing to anyone else.
    pub async fn provision(&self, app_id: Uuid) -> Result<(), TenantError> {
        self.prepare().await?;
        let role = role_name(app_id);
        let quoted = quote_ident(&role);
        let settings = &self.shared.settings;
        let mut tx =
            self.shared.admin.begin().await.map_err(TenantError::database("opening a transaction"))?;
        lock(&mut tx, Some(app_id)).await.map_err(TenantError::database("locking the app's tenancy"))?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1)")
                .bind(&role)
                .fetch_one(&mut *tx)
                .await
                .map_err(TenantError::database("looking for the app's role"))?;
        let attributes = format!(
            "LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS \
             CONNECTION LIMIT {} PASSWORD {}",
            i32::try_from(settings.role_connection_limit).unwrap_or(i32::MAX),
            quote_literal(&self.shared.secret.scram_verifier(app_id)),
        );
        let verb = if exists { "ALTER" } else { "CREATE" };
        run(&mut tx, &format!("{verb} ROLE {quoted} WITH {attributes}"))
            .await
            .map_err(TenantError::database("creating the app's role"))?;
        let memberships: Vec<String> = sqlx::query_scalar(
            "SELECT roleid::regrole::text FROM pg_catalog.pg_auth_members WHERE member = $1::regrole",
        )
        .bind(&quoted)
        .fetch_all(&mut *tx)
        .await
        .map_err(TenantError::database("reading the app role's memberships"))?;
        let database: String = sqlx::query_scalar("SELECT pg_catalog.current_database()::text")
            .fetch_one(&mut *tx)
            .await
            .map_err(TenantError::database("reading the database name"))?;
        let timeout_ms = settings.statement_timeout.as_millis().max(1);
        let mut statements = vec![
            format!("ALTER ROLE {quoted} RESET ALL"),
            format!("ALTER ROLE {quoted} SET search_path = {quoted}"),
            format!("ALTER ROLE {quoted} SET statement_timeout = {timeout_ms}"),
        ];
        statements.extend(memberships.iter().map(|granted| format!("REVOKE {granted} FROM {quoted}")));
        statements.extend([
            format!("CREATE SCHEMA IF NOT EXISTS {quoted} AUTHORIZATION {quoted}"),
            format!("ALTER SCHEMA {quoted} OWNER TO {quoted}"),
            format!("COMMENT ON ROLE {quoted} IS {}", quote_literal(&format!("{ROLE_COMMENT}{database}"))),
            format!("REVOKE ALL ON SCHEMA {quoted} FROM PUBLIC"),
            format!("GRANT CONNECT ON DATABASE {} TO {quoted}", quote_ident(&database)),
        ]);
        for statement in &statements {
            run(&mut tx, statement)
                .await
                .map_err(TenantError::database("setting up the app's role and schema"))?;
        }
        tx.commit().await.map_err(TenantError::database("committing the app's provisioning"))
    }

    /// Drops the app's data and role: no new logins, its backends ended, its pooled connections
    /// closed, then its schema and everything else it owns (large objects too) and the role.
    /// Dropping an app that has no role is fine.
    pub async fn deprovision(&self, app_id: Uuid) -> Result<(), TenantError> {
        let role = role_name(app_id);
        let quoted = quote_ident(&role);
        let admin = &self.shared.admin;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1)")
                .bind(&role)
                .fetch_one(admin)
                .await
                .map_err(TenantError::database("looking for the app's role"))?;
        if exists {
            admin
                .execute(format!("ALTER ROLE {quoted} NOLOGIN").as_str())
                .await
                .map_err(TenantError::database("closing the app's role to logins"))?;
        }
        self.shared.close_pool(app_id).await;
        let started = Instant::now();
        loop {
            let remaining: i64 = sqlx::query_scalar(
                "SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM pg_catalog.pg_stat_activity \
                 WHERE usename = $1",
            )
            .bind(&role)
            .fetch_one(admin)
            .await
            .map_err(TenantError::database("ending the app's connections"))?;
            if remaining == 0 || started.elapsed() > TERMINATE_WAIT {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut tx = admin.begin().await.map_err(TenantError::database("opening a transaction"))?;
        lock(&mut tx, Some(app_id)).await.map_err(TenantError::database("locking the app's tenancy"))?;
        let mut statements = vec![format!("DROP SCHEMA IF EXISTS {quoted} CASCADE")];
        if exists {
            statements.push(format!("DROP OWNED BY {quoted} CASCADE"));
            statements.push(format!("DROP ROLE IF EXISTS {quoted}"));
        }
        for statement in &statements {
            run(&mut tx, statement)
                .await
                .map_err(TenantError::database("dropping the app's schema and role"))?;
        }
        tx.commit().await.map_err(TenantError::database("committing the app's removal"))
    }
}

/// Drops the app roles (`app_<id>`) whose database no longer exists, as recorded in their comment
/// at provisioning; returns their names. A database dropped whole (not app by app) leaves its app
/// roles behind, since roles belong to the cluster; this is their cleanup. Roles of existing
/// databases, and roles without the comment, are never touched; a role another caller drops
/// meanwhile is skipped.
pub async fn drop_orphaned_roles(admin: &sqlx::PgPool) -> Result<Vec<String>, TenantError> {
    let orphans: Vec<String> = sqlx::query_scalar(
        "SELECT r.rolname::text FROM pg_catalog.pg_roles r          JOIN pg_catalog.pg_shdescription d            ON d.objoid = r.oid AND d.classoid = 'pg_catalog.pg_authid'::regclass          WHERE r.rolname ~ '^app_[0-9a-f]{32}$' AND starts_with(d.description, $1)            AND NOT EXISTS (SELECT FROM pg_catalog.pg_database db                            WHERE db.datname = substr(d.description, length($1) + 1))",
    )
    .bind(ROLE_COMMENT)
    .fetch_all(admin)
    .await
    .map_err(TenantError::database("looking for orphaned app roles"))?;
    let mut dropped = Vec::new();
    for role in orphans {
        match admin.execute(format!("DROP ROLE IF EXISTS {}", quote_ident(&role)).as_str()).await {
            Ok(_) => dropped.push(role),
            Err(error) => tracing::debug!(role, %error, "an orphaned app role was not dropped"),
        }
    }
    Ok(dropped)
}

/// Checks that `PUBLIC` (every app role) can create nothing anywhere and reach no relation outside
/// the system catalogs and app schemas.
async fn check_hardened(conn: &mut PgConnection) -> Result<(), TenantError> {
    let problems: Vec<String> = sqlx::query_scalar(
        r#"
        SELECT 'PUBLIC may ' || a.privilege_type || ' on database ' || d.datname
        FROM pg_catalog.pg_database d,
             LATERAL pg_catalog.aclexplode(COALESCE(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
        WHERE d.datname = pg_catalog.current_database() AND a.grantee = 0
          AND a.privilege_type IN ('CREATE', 'TEMPORARY')
        UNION ALL
        SELECT 'PUBLIC may create in schema ' || n.nspname
        FROM pg_catalog.pg_namespace n,
             LATERAL pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
        WHERE a.grantee = 0 AND a.privilege_type = 'CREATE'
        UNION ALL
        SELECT 'PUBLIC may reach ' || n.nspname || '.' || c.relname
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname !~ '^(pg_toast|pg_temp_|pg_toast_temp_)'
          AND n.nspname !~ '^app_[0-9a-f]{32}$'
          AND EXISTS (SELECT FROM pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) s
                      WHERE s.grantee = 0 AND s.privilege_type = 'USAGE')
          AND (EXISTS (SELECT FROM pg_catalog.aclexplode(c.relacl) r WHERE r.grantee = 0)
               OR EXISTS (SELECT FROM pg_catalog.pg_attribute t, LATERAL pg_catalog.aclexplode(t.attacl) r
                          WHERE t.attrelid = c.oid AND r.grantee = 0))
        "#,
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(TenantError::database("checking the database's privileges"))?;
    if problems.is_empty() {
        return Ok(());
    }
    Err(TenantError::NotHardened(format!(
        "{}; connect as a superuser or as the database's owner, or revoke these from PUBLIC",
        problems.join(", ")
    )))
}
