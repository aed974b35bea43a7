//! Applying a version's migrations to the app's schema, as the app's own role, in one transaction.
//!
//! The SQL is the app owner's, so it runs exactly where the app's own queries run: over the app's
//! [`vibe_apps_runtime::AppDb`], logged in as the app's role, never as the platform. A migration may
//! hold many statements; each is handed to PL/pgSQL's `EXECUTE` (through a transaction-local setting,
//! so no quoting is involved), which runs them all and refuses transaction control (`COMMIT`,
//! `ROLLBACK`): the version's migrations commit together or not at all.
//!
//! Which migrations ran is kept in the app's own schema, in `_vibe_migrations`, written in the same
//! transaction as the migrations themselves. A migration already applied under the same name is
//! skipped; one whose SQL changed since is refused.

use sha2::{Digest, Sha256};
use uuid::Uuid;
use vibe_apps_runtime::tenant::{Tenancy, schema_name};
use vibe_apps_runtime::{DbError, DbSession, DbValue};

use super::deploy::Migration;
use crate::error::ApiError;

/// Runs every migration of `migrations` not yet applied to the app, in order, in one transaction.
pub(crate) async fn apply(tenancy: &Tenancy, app_id: Uuid, migrations: &[Migration]) -> Result<(), ApiError> {
    let mut session = tenancy.app_db(app_id).session().await.map_err(unavailable)?;
    session.begin().await.map_err(unavailable)?;
    let result = run(session.as_mut(), app_id, migrations).await;
    match result {
        Ok(()) => session.commit().await.map_err(|error| failed("commit", &error)),
        Err(error) => {
            let _ = session.rollback().await;
            Err(error)
        }
    }
}

async fn run(session: &mut dyn DbSession, app_id: Uuid, migrations: &[Migration]) -> Result<(), ApiError> {
    let table = format!("\"{}\"._vibe_migrations", schema_name(app_id));
    session
        .execute(
            &format!(
                "CREATE TABLE IF NOT EXISTS {table} (name text PRIMARY KEY, checksum text NOT NULL, \
                 applied_at timestamptz NOT NULL DEFAULT now())"
            ),
            vec![],
        )
        .await
        .map_err(|error| failed("the migrations table", &error))?;
    let applied = session
        .query(&format!("SELECT name, checksum FROM {table}"), vec![])
        .await
        .map_err(|error| failed("the migrations table", &error))?;
    let applied: Vec<(String, String)> = applied
        .rows
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [DbValue::Text(name), DbValue::Text(checksum)] => Some((name.clone(), checksum.clone())),
            _ => None,
        })
        .collect();
    for migration in migrations {
        let checksum = hex::encode(Sha256::digest(migration.sql.as_bytes()));
        if let Some((_, before)) = applied.iter().find(|(name, _)| *name == migration.name) {
            if *before != checksum {
                return Err(ApiError::validation(
                    "migrations",
                    format!(
                        "{} was changed after it was applied; add a new migration instead",
                        migration.name
                    ),
                ));
            }
            continue;
        }
        session
            .execute(
                "SELECT pg_catalog.set_config('vibe.migration', $1, true)",
                vec![DbValue::Text(migration.sql.clone())],
            )
            .await
            .map_err(|error| failed(&migration.name, &error))?;
        session
            .execute(
                "DO $vibe_migration$ BEGIN EXECUTE pg_catalog.current_setting('vibe.migration'); END $vibe_migration$",
                vec![],
            )
            .await
            .map_err(|error| failed(&migration.name, &error))?;
        session
            .execute(
                &format!("INSERT INTO {table} (name, checksum) VALUES ($1, $2)"),
                vec![DbValue::Text(migration.name.clone()), DbValue::Text(checksum)],
            )
            .await
            .map_err(|error| failed(&migration.name, &error))?;
    }
    Ok(())
}

/// The app's database could not be reached at all.
fn unavailable(error: DbError) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("opening the app's database: {}", describe(&error)))
}

/// A migration failed: the owner's to fix, so the reason is theirs to read.
fn failed(what: &str, error: &DbError) -> ApiError {
    match error {
        DbError::Unavailable(_) => unavailable(error.clone()),
        _ => ApiError::validation("migrations", format!("{what}: {}; nothing was applied", describe(error))),
    }
}

/// What went wrong, in the database's words.
pub(crate) fn describe(error: &DbError) -> String {
    match error {
        DbError::Sql(sql) => format!("{} (SQLSTATE {})", sql.message, sql.sqlstate),
        DbError::UnsupportedType(what) => format!("unsupported type: {what}"),
        DbError::TransactionState(what) => format!("transaction state: {what}"),
        DbError::TooLarge(what) => format!("too large: {what}"),
        DbError::Timeout => "the statement took too long and was stopped".to_owned(),
        DbError::Unavailable(what) => format!("the database is unavailable: {what}"),
    }
}
