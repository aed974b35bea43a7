//! Installing the first-party agents (`plugins/`, embedded by `vibe-builtin-plugins`) through the
//! same path as a third party's plugin: signed by a publisher key registered to an account, verified
//! and compiled by [`AgentHost::publish`], approved, then routed.
//!
//! The platform publishes as a system account ([`PUBLISHER`], an address that can receive no mail,
//! with no password), with an ed25519 key generated once and kept in `platform_secrets`, so every
//! process on the database signs alike. Each run, for each plugin:
//! - if exactly that package (name, version, digest) is published, nothing is compiled again;
//! - its capabilities are approved as the platform (the first-party agents want `llm`);
//! - its system instructions and configuration are recorded with its version in the registry;
//! - its agent type is routed to it (weight 100) when the type has no routing yet, or when the
//!   routing in force is the platform's own (an upgrade of the built-in agent); an operator's
//!   routing is never overridden.
//!
//! Runs are serialised across processes by a Postgres advisory lock, so concurrent starts install
//! once. A plugin that cannot be installed (a version republished with other bytes) is logged and
//! skipped: the server still starts.

use std::collections::BTreeMap;

use anyhow::Context;
use ed25519_dalek::SigningKey;
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;
use vibe_builtin_plugins::BuiltinPlugin;

use super::dispatch::AgentHost;
use super::registry::catalog::{self, Viewer};
use super::registry::package::Manifest;
use super::registry::routing::change;
use super::registry::signing;
use super::registry::store::digest;
use super::registry::verify::Submission;
use crate::state::AppState;

/// The account the platform publishes its own plugins as (the manifests' `publisher`).
pub const PUBLISHER: &str = "plugins@vibe.invalid";
/// The `platform_secrets` entry holding the platform's plugin signing key (a 32-byte seed).
const SIGNING_KEY_SECRET: &str = "builtin_plugin_signing_key";
/// The advisory lock that serialises installs across processes ("vibe-bui" in ASCII).
const INSTALL_LOCK: i64 = 0x7669_6265_2d62_7569;
/// The weight a built-in version is routed with.
const WEIGHT: u32 = 100;

/// What happened to one built-in plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// `<plugin>@<version>`.
    pub version_ref: String,
    /// The agent type it serves.
    pub agent_type: String,
    /// Published by this run (`false`: it already was).
    pub published: bool,
    /// Routed by this run (`false`: already routed to it, or routed by an operator).
    pub routed: bool,
}

/// Installs every built-in plugin with `state`'s agent host.
pub async fn install(state: &AppState) -> anyhow::Result<Vec<Installed>> {
    install_plugins(&state.db, &state.agents, vibe_builtin_plugins::ALL).await
}

/// Installs `plugins`; one that cannot be installed is logged and left out of the answer.
pub async fn install_plugins(
    db: &PgPool,
    agents: &AgentHost,
    plugins: &[BuiltinPlugin],
) -> anyhow::Result<Vec<Installed>> {
    // Held by a connection of its own (waiting for the lock must not hold one of the pool's, which
    // the process holding it needs), released when that connection closes, whatever happens.
    let mut lock = PgConnection::connect_with(&db.connect_options())
        .await
        .context("connecting to install the built-in agents")?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(INSTALL_LOCK)
        .execute(&mut lock)
        .await
        .context("waiting for another process installing the built-in agents")?;
    let publisher = system_account(db).await?;
    let key = signing_key(db, publisher).await?;
    let mut installed = Vec::new();
    for plugin in plugins {
        match install_one(db, agents, publisher, &key, plugin).await {
            Ok(done) => {
                tracing::info!(
                    plugin = done.version_ref,
                    published = done.published,
                    routed = done.routed,
                    "built-in agent installed"
                );
                installed.push(done);
            }
            Err(error) => tracing::error!(
                agent_type = plugin.agent_type,
                error = format!("{error:#}"),
                "cannot install a built-in agent"
            ),
        }
    }
    lock.close().await.context("ending the install of the built-in agents")?;
    Ok(installed)
}

/// The system publisher's account, made on first use. An account of that address that someone
/// could sign in to (it has a password) is refused: it would own the built-in plugins' names.
async fn system_account(db: &PgPool) -> anyhow::Result<Uuid> {
    sqlx::query(
        "INSERT INTO users (id, email, name) VALUES ($1, $2, 'Vibe platform') ON CONFLICT DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(PUBLISHER)
    .execute(db)
    .await
    .context("creating the platform's publisher account")?;
    let (id, has_password): (Uuid, bool) =
        sqlx::query_as("SELECT id, password_hash IS NOT NULL FROM users WHERE lower(email) = lower($1)")
            .bind(PUBLISHER)
            .fetch_one(db)
            .await
            .context("reading the platform's publisher account")?;
    anyhow::ensure!(
        !has_password,
        "the account {PUBLISHER} has a password: it is not the platform's; the built-in agents are not installed"
    );
    Ok(id)
}

/// The platform's signing key (made once, shared by every process), registered to `publisher`.
async fn signing_key(db: &PgPool, publisher: Uuid) -> anyhow::Result<SigningKey> {
    let fresh: [u8; 32] = rand::random();
    sqlx::query("INSERT INTO platform_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(SIGNING_KEY_SECRET)
        .bind(fresh.as_slice())
        .execute(db)
        .await
        .context("storing the platform's plugin signing key")?;
    let seed: Vec<u8> = sqlx::query_scalar("SELECT value FROM platform_secrets WHERE name = $1")
        .bind(SIGNING_KEY_SECRET)
        .fetch_one(db)
        .await
        .context("reading the platform's plugin signing key")?;
    let seed: [u8; 32] =
        seed.try_into().map_err(|_| anyhow::anyhow!("the stored plugin signing key is not 32 bytes"))?;
    let key = SigningKey::from_bytes(&seed);
    sqlx::query(
        "INSERT INTO publisher_keys (id, user_id, public_key, label) VALUES ($1, $2, $3, 'built-in agents') \
         ON CONFLICT (public_key) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(publisher)
    .bind(key.verifying_key().to_bytes().as_slice())
    .execute(db)
    .await
    .context("registering the platform's plugin signing key")?;
    Ok(key)
}

async fn install_one(
    db: &PgPool,
    agents: &AgentHost,
    publisher: Uuid,
    key: &SigningKey,
    plugin: &BuiltinPlugin,
) -> anyhow::Result<Installed> {
    let manifest: Manifest =
        serde_json::from_str(plugin.manifest).context("the embedded manifest does not parse")?;
    let digest = digest(plugin.component);
    let version_ref = manifest.version_ref();
    let published: Option<String> =
        sqlx::query_scalar("SELECT digest FROM plugin_versions WHERE plugin_name = $1 AND version = $2")
            .bind(&manifest.name)
            .bind(&manifest.version)
            .fetch_optional(db)
            .await?;
    let newly_published = match published {
        Some(published) if published == digest => false,
        Some(published) => anyhow::bail!(
            "{version_ref} is published with other bytes (sha256 {published}, built {digest}); \
             bump the plugin's version in its Cargo.toml and manifest.json"
        ),
        None => {
            let signature = signing::sign(key, &digest, &manifest);
            let submission = Submission {
                manifest: manifest.clone(),
                component: plugin.component.to_vec(),
                digest: digest.clone(),
                public_key: Some(key.verifying_key().to_bytes().to_vec()),
                signature: Some(signature.to_vec()),
            };
            let caller = Viewer { id: publisher, operator: false };
            agents.publish(caller, submission).await.map_err(|error| anyhow::anyhow!("{error}"))?.created
        }
    };
    // Approved as the platform itself (as an operator's `vibe plugin approve` is, with no account).
    catalog::approve(db, None, &manifest.name, &manifest.version)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let configuration: serde_json::Value =
        serde_json::from_str(plugin.configuration).context("the embedded configuration does not parse")?;
    sqlx::query(
        "UPDATE agent_versions v SET system_instructions = $3, configuration = $4 FROM plugin_versions p \
         WHERE p.id = v.plugin_version_id AND p.plugin_name = $1 AND p.version = $2",
    )
    .bind(&manifest.name)
    .bind(&manifest.version)
    .bind(plugin.instructions)
    .bind(&configuration)
    .execute(db)
    .await
    .context("recording the instructions and configuration")?;
    sqlx::query("UPDATE agent_registry SET description = $2 WHERE agent_type = $1 AND description = ''")
        .bind(plugin.agent_type)
        .bind(&manifest.description)
        .execute(db)
        .await?;
    agents.refresh_types_of(&manifest.name, &manifest.version).await;
    let weights = BTreeMap::from([(version_ref.clone(), WEIGHT)]);
    let routed = change::set_if_owned(db, plugin.agent_type, &weights, publisher)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?
        .is_some();
    if routed {
        agents.reload_logged(plugin.agent_type).await;
    }
    Ok(Installed {
        version_ref,
        agent_type: plugin.agent_type.to_owned(),
        published: newly_published,
        routed,
    })
}
