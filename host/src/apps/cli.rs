//! `vibe app …`: deploying and managing apps from the command line (operators, local development).
//! The commands change the database exactly as the API does; running servers on the same database
//! pick the change up from the `app:status` event, without a restart.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::deploy::{Migration, NewVersion};
use super::{AppsService, AppsSettings};
use crate::config::{AppCommand, BaseConfig};
use crate::events::EventBus;

/// Runs one `vibe app` command on `db`.
pub async fn run(db: &PgPool, base: &BaseConfig, command: AppCommand) -> anyhow::Result<()> {
    match command {
        AppCommand::Deploy { component, name, migrations, config, owner, apps_domain } => {
            let new = NewVersion {
                component: std::fs::read(&component)
                    .with_context(|| format!("reading the component {}", component.display()))?,
                migrations: match &migrations {
                    Some(dir) => read_migrations(dir)?,
                    None => Vec::new(),
                },
                config: match &config {
                    Some(file) => read_config(file)?,
                    None => BTreeMap::new(),
                },
                build_id: None,
            };
            let service = service(db, base, &apps_domain).await?;
            let app_id = find_or_create(db, &name, owner.as_deref()).await?;
            let deployed = service.deploy(app_id, new).await;
            service.flush().await;
            let version = deployed.map_err(|error| anyhow::anyhow!("{error}")).context("deploy refused")?;
            println!(
                "deployed {name} version {} (sha256:{}): /apps/{name}/ and http://{name}.{apps_domain}/",
                version.number, version.component_digest
            );
        }
        AppCommand::List => {
            let apps: Vec<(String, String, Option<i32>, String)> = sqlx::query_as(
                "SELECT a.slug, a.status, v.number, u.email FROM apps a JOIN users u ON u.id = a.user_id \
                 LEFT JOIN app_versions v ON v.id = a.live_version_id ORDER BY a.slug",
            )
            .fetch_all(db)
            .await
            .context("listing the apps")?;
            for (slug, status, version, owner) in apps {
                let version = version.map_or_else(|| "-".to_owned(), |n| n.to_string());
                println!("{slug}\t{status}\tversion {version}\t{owner}");
            }
        }
        AppCommand::Rollback { name, version } => {
            let service = service(db, base, "apps.localhost").await?;
            let app_id = app_id(db, &name).await?.with_context(|| format!("no app named {name}"))?;
            let rolled = service.rollback(app_id, version).await;
            service.flush().await;
            rolled.map_err(|error| anyhow::anyhow!("{error}")).context("rollback refused")?;
            println!("{name} now serves version {version}");
        }
    }
    Ok(())
}

async fn service(db: &PgPool, base: &BaseConfig, apps_domain: &str) -> anyhow::Result<AppsService> {
    let events = EventBus::start(db.clone()).await?;
    let settings = AppsSettings {
        data_dir: base.data_dir.clone(),
        apps_domain: apps_domain.to_owned(),
        public_base: String::new(),
        idle_unload: std::time::Duration::ZERO,
    };
    Ok(AppsService::start(db.clone(), events, settings))
}

async fn app_id(db: &PgPool, slug: &str) -> anyhow::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT id FROM apps WHERE slug = $1")
        .bind(slug)
        .fetch_optional(db)
        .await
        .context("finding the app")
}

/// The app named `slug`, created for `owner` when there is none.
async fn find_or_create(db: &PgPool, slug: &str, owner: Option<&str>) -> anyhow::Result<Uuid> {
    if let Some(id) = app_id(db, slug).await? {
        return Ok(id);
    }
    let valid = (1..=63).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    anyhow::ensure!(valid, "--name must be 1 to 63 of a-z, 0-9 and -, not starting or ending with -");
    let owner = owner
        .with_context(|| format!("there is no app named {slug} yet: pass --owner <email> to create it"))?;
    let user: Option<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
        .bind(owner)
        .fetch_optional(db)
        .await
        .context("finding the owner")?;
    let user = user.with_context(|| format!("no account with email {owner}"))?;
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO apps (id, user_id, slug, name) VALUES ($1, $2, $3, $3)")
        .bind(id)
        .bind(user)
        .bind(slug)
        .execute(db)
        .await
        .context("creating the app")?;
    Ok(id)
}

/// The `*.sql` files of `dir`, in file-name order, named by their file names.
fn read_migrations(dir: &Path) -> anyhow::Result<Vec<Migration>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading the migrations in {}", dir.display()))?;
    let mut migrations = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|ext| ext != "sql") || !path.is_file() {
            continue;
        }
        let name =
            path.file_name().and_then(|n| n.to_str()).context("a migration's file name is not UTF-8")?;
        let sql = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        migrations.push(Migration { name: name.to_owned(), sql });
    }
    migrations.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(migrations)
}

/// A JSON object of settings: name → string.
fn read_config(file: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let Value::Object(map) = value else { anyhow::bail!("{} must hold a JSON object", file.display()) };
    map.into_iter()
        .map(|(name, value)| match value {
            Value::String(text) => Ok((name, text)),
            _ => anyhow::bail!("setting {name} must be a string"),
        })
        .collect()
}
