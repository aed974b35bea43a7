//! Changing what an app serves: a new version (component + migrations + configuration), a rollback to
//! an earlier one, pause, resume, and deletion.
//!
//! A deploy checks everything before anything changes: the version's contents, the component (it is
//! precompiled, and refused with the reason if it is no `vibe:app` component), the app's limits. It
//! then provisions the app's schema and role if needed and applies the version's new migrations as
//! the app's own role in one transaction (`migrations.rs`), records the version and makes it live,
//! all under a lock on the app's row, so two deploys of one app never interleave. Only after the
//! commit does the live table switch and an `app:status` event tell every process.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};
use uuid::Uuid;
use vibe_apps_runtime::{ComponentSource, LogLevel};

use super::AppsService;
use super::migrations;
use crate::error::ApiError;
use crate::events::{Event, EventKind};

/// The largest component accepted.
pub const MAX_COMPONENT_BYTES: usize = 60 * 1024 * 1024;
/// The most migrations one version may carry.
pub const MAX_MIGRATIONS: usize = 1_000;
/// The most bytes of SQL all migrations of a version may hold together.
pub const MAX_MIGRATION_BYTES: usize = 8 * 1024 * 1024;
/// The most settings a version may carry, and the longest value.
pub const MAX_SETTINGS: usize = 200;
pub const MAX_SETTING_BYTES: usize = 64 * 1024;

/// One migration: a name (its identity, applied once) and its SQL.
#[derive(Debug, Clone)]
pub struct Migration {
    pub name: String,
    pub sql: String,
}

/// What a new version is made of.
#[derive(Debug, Clone, Default)]
pub struct NewVersion {
    pub component: Vec<u8>,
    /// Applied in this order; those already applied to the app (by name) are skipped.
    pub migrations: Vec<Migration>,
    /// Settings and secrets the app reads through `vibe:app/config`.
    pub config: BTreeMap<String, String>,
    /// The build that made it, when the build service did (its spec, code and test report).
    pub build_id: Option<Uuid>,
}

/// A version as recorded.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct VersionRecord {
    pub id: Uuid,
    pub app_id: Uuid,
    /// 1, 2, 3… in the order versions were created.
    pub number: i32,
    /// sha256 of the component, 64 hex digits.
    pub component_digest: String,
    /// The names of the version's migrations, in order.
    pub migrations: Vec<String>,
    /// The names of the version's settings (their values may be secrets and are never shown).
    pub config_names: Vec<String>,
    /// Whether it is the app's live version.
    pub live: bool,
    /// The build that made it (its spec, code and test report: `GET /api/builds/{id}`), if any.
    pub build_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

/// Selects [`VersionRecord`]s from `app_versions v` joined with `apps a`.
pub(crate) const VERSION_COLUMNS: &str = "v.id, v.app_id, v.number, v.component_digest, \
    ARRAY(SELECT m->>'name' FROM jsonb_array_elements(v.migrations) m) AS migrations, \
    ARRAY(SELECT jsonb_object_keys(v.config) ORDER BY 1) AS config_names, \
    a.live_version_id IS NOT DISTINCT FROM v.id AS live, v.build_id, v.created_at";

fn is_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl NewVersion {
    /// Refuses a version whose contents are out of bounds, naming the part at fault.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.component.is_empty() {
            return Err(ApiError::validation("component", "the component is empty"));
        }
        if self.component.len() > MAX_COMPONENT_BYTES {
            return Err(ApiError::validation("component", format!("at most {MAX_COMPONENT_BYTES} bytes")));
        }
        if self.migrations.len() > MAX_MIGRATIONS {
            return Err(ApiError::validation("migrations", format!("at most {MAX_MIGRATIONS} migrations")));
        }
        let total: usize = self.migrations.iter().map(|m| m.sql.len()).sum();
        if total > MAX_MIGRATION_BYTES {
            return Err(ApiError::validation(
                "migrations",
                format!("at most {MAX_MIGRATION_BYTES} bytes of SQL"),
            ));
        }
        let mut seen = HashSet::new();
        for migration in &self.migrations {
            if !is_name(&migration.name, 200) {
                return Err(ApiError::validation(
                    "migrations",
                    format!("{:?}: names are 1 to 200 of A-Z, a-z, 0-9, _, - and .", migration.name),
                ));
            }
            if !seen.insert(migration.name.as_str()) {
                return Err(ApiError::validation("migrations", format!("{} appears twice", migration.name)));
            }
            if migration.sql.contains('\0') {
                return Err(ApiError::validation("migrations", format!("{}: NUL character", migration.name)));
            }
        }
        if self.config.len() > MAX_SETTINGS {
            return Err(ApiError::validation("config", format!("at most {MAX_SETTINGS} settings")));
        }
        for (name, value) in &self.config {
            if !is_name(name, 128) {
                return Err(ApiError::validation(
                    "config",
                    format!("{name:?}: names are 1 to 128 of A-Z, a-z, 0-9, _, - and ."),
                ));
            }
            if value.len() > MAX_SETTING_BYTES || value.contains('\0') {
                return Err(ApiError::validation(
                    "config",
                    format!("{name}: at most {MAX_SETTING_BYTES} bytes, no NUL"),
                ));
            }
        }
        Ok(())
    }
}

/// The app's row as a lifecycle change needs it.
#[derive(sqlx::FromRow)]
struct AppRow {
    slug: String,
    status: String,
    hosting_config: Value,
    live_version_id: Option<Uuid>,
}

impl AppsService {
    /// Creates version N+1 of `app_id` from `new` and makes it live (see the module docs).
    pub async fn deploy(&self, app_id: Uuid, new: NewVersion) -> Result<VersionRecord, ApiError> {
        new.validate()?;
        let app = self.app_row(app_id).await?;
        let limits = self
            .check_hosting_config(&app.hosting_config)
            .map_err(|error| ApiError::validation("hosting_config", error.to_string()))?;
        let config = serde_json::to_value(&new.config).map_err(anyhow::Error::from)?;
        let capabilities = self.capabilities(app_id, &app.hosting_config, &config).await?;
        // Compile before changing anything: a component that is not an app is refused with the reason.
        let runtime = self.runtime().await?;
        let checked = runtime
            .load(app_id, None, ComponentSource::Bytes(new.component.clone()), limits, capabilities)
            .await
            .map_err(|error| ApiError::validation("component", error.to_string()))?;
        let digest = self.artifacts().put(&new.component).await?;

        let mut tx = self.db().begin().await?;
        let locked: Option<(i32,)> = sqlx::query_as(
            "SELECT COALESCE((SELECT max(number) FROM app_versions WHERE app_id = a.id), 0) \
             FROM apps a WHERE a.id = $1 FOR UPDATE",
        )
        .bind(app_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((last,)) = locked else { return Err(ApiError::NotFound) };
        let tenancy = self.tenancy().await?;
        tenancy.provision(app_id).await.map_err(anyhow::Error::from)?;
        migrations::apply(tenancy, app_id, &new.migrations).await?;
        let listed: Vec<Value> =
            new.migrations.iter().map(|m| json!({"name": m.name, "sql": m.sql})).collect();
        let version_id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO app_versions (id, app_id, number, component_digest, migrations, config, build_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(version_id)
        .bind(app_id)
        .bind(last + 1)
        .bind(&digest)
        .bind(Value::Array(listed))
        .bind(&config)
        .bind(new.build_id)
        .execute(&mut *tx)
        .await?;
        let keep_paused = app.status == "paused";
        sqlx::query(
            "UPDATE apps SET live_version_id = $2, deployed_at = now(), \
             status = CASE WHEN $3 THEN 'paused' ELSE 'deployed' END WHERE id = $1",
        )
        .bind(app_id)
        .bind(version_id)
        .bind(keep_paused)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;

        let number = last + 1;
        let applied = new.migrations.len();
        self.logs().platform(
            app_id,
            LogLevel::Info,
            &format!("version {number} deployed ({digest}, {applied} migrations)"),
        );
        self.announce(app_id, if keep_paused { "paused" } else { "deployed" }, Some(number)).await;
        // Held until the switch: an app in use loads its new version then, sharing this compiled code.
        drop(checked);
        self.version(app_id, number).await
    }

    /// Makes the earlier version `number` live again. Migrations are never undone: the version's
    /// code runs on the schema as it is now.
    pub async fn rollback(&self, app_id: Uuid, number: i32) -> Result<VersionRecord, ApiError> {
        let app = self.app_row(app_id).await?;
        let target: Option<(Uuid,)> =
            sqlx::query_as("SELECT id FROM app_versions WHERE app_id = $1 AND number = $2")
                .bind(app_id)
                .bind(number)
                .fetch_optional(self.db())
                .await?;
        let Some((version_id,)) = target else {
            return Err(ApiError::validation("version", format!("the app has no version {number}")));
        };
        let status = if app.status == "paused" { "paused" } else { "deployed" };
        sqlx::query("UPDATE apps SET live_version_id = $2, status = $3, deployed_at = now() WHERE id = $1")
            .bind(app_id)
            .bind(version_id)
            .bind(status)
            .execute(self.db())
            .await?;
        self.logs().platform(app_id, LogLevel::Info, &format!("rolled back to version {number}"));
        self.announce(app_id, status, Some(number)).await;
        self.version(app_id, number).await
    }

    /// Pauses the app (it answers 503) or resumes it.
    pub async fn set_paused(&self, app_id: Uuid, paused: bool) -> Result<&'static str, ApiError> {
        let app = self.app_row(app_id).await?;
        if app.live_version_id.is_none() {
            return Err(ApiError::Conflict("the app has no deployed version yet".into()));
        }
        let status = if paused { "paused" } else { "deployed" };
        sqlx::query("UPDATE apps SET status = $2 WHERE id = $1")
            .bind(app_id)
            .bind(status)
            .execute(self.db())
            .await?;
        if app.status != status {
            self.logs().platform(app_id, LogLevel::Info, if paused { "paused" } else { "resumed" });
        }
        self.announce(app_id, status, None).await;
        Ok(status)
    }

    /// Deletes the app: it stops answering, its schema and role are dropped, then its records.
    pub async fn delete(&self, app_id: Uuid) -> Result<(), ApiError> {
        let app = self.app_row(app_id).await?;
        self.forget(app_id);
        let dropped = match self.tenancy().await {
            Ok(tenancy) => tenancy.deprovision(app_id).await.map_err(anyhow::Error::from),
            Err(error) => Err(error),
        };
        if let Err(error) = dropped {
            // Nothing was deleted: serve the app again.
            let _ = self.reload(app_id).await;
            return Err(error.into());
        }
        sqlx::query("DELETE FROM apps WHERE id = $1").bind(app_id).execute(self.db()).await?;
        tracing::info!(%app_id, slug = app.slug, "app deleted");
        self.announce(app_id, "deleted", None).await;
        Ok(())
    }

    /// Tells every process that the app's settings changed (hosting configuration, feature switches),
    /// so that each serves it with the new ones.
    pub async fn changed(&self, app_id: Uuid) {
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM apps WHERE id = $1")
            .bind(app_id)
            .fetch_optional(self.db())
            .await
            .unwrap_or_else(|error| {
                tracing::error!(%app_id, %error, "cannot read the app's status");
                None
            });
        if let Some(status) = status {
            self.announce(app_id, &status, None).await;
        }
    }

    /// Tells every process (this one included) about the app's new state. The change is committed
    /// already, so a failure to announce is logged, not returned; this process switches at once.
    async fn announce(&self, app_id: Uuid, status: &str, version: Option<i32>) {
        if status != "deleted"
            && let Err(error) = self.reload(app_id).await
        {
            tracing::error!(%app_id, error = format!("{error:#}"), "cannot switch the app");
        }
        let event = Event {
            kind: EventKind::AppStatus,
            idea_id: None,
            app_id: Some(app_id),
            user_id: None,
            data: json!({"status": status, "version": version}),
        };
        if let Err(error) = self.events().publish(event).await {
            tracing::error!(%app_id, error = format!("{error:#}"), "cannot announce the app's status");
        }
    }

    async fn app_row(&self, app_id: Uuid) -> Result<AppRow, ApiError> {
        sqlx::query_as("SELECT slug, status, hosting_config, live_version_id FROM apps WHERE id = $1")
            .bind(app_id)
            .fetch_optional(self.db())
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Version `number` of `app_id`.
    pub async fn version(&self, app_id: Uuid, number: i32) -> Result<VersionRecord, ApiError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM app_versions v JOIN apps a ON a.id = v.app_id \
             WHERE v.app_id = $1 AND v.number = $2"
        ))
        .bind(app_id)
        .bind(number)
        .fetch_one(self.db())
        .await?)
    }

    /// Every version of `app_id`, newest first.
    pub async fn versions(&self, app_id: Uuid) -> Result<Vec<VersionRecord>, ApiError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM app_versions v JOIN apps a ON a.id = v.app_id \
             WHERE v.app_id = $1 ORDER BY v.number DESC"
        ))
        .bind(app_id)
        .fetch_all(self.db())
        .await?)
    }
}
