//! The catalog of published plugins: publishing a verified package, listing plugins and their
//! versions, an operator's approval and deprecation.
//!
//! Who sees what: operators see everything; anyone signed in sees approved versions; a publisher
//! also sees their own versions waiting for approval. A plugin nobody may see answers 404.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::package::{Capability, LimitsWanted, Manifest, PluginKind, kind_name, parse_kind};
use super::routing::change::notify;
use super::signing;
use super::store::ArtifactStore;
use super::verify::{self, Refusal, Submission};
use crate::agents::runtime::{AgentLimits, AgentLoadError, AgentRuntime, PreparedAgent};
use crate::error::{ApiError, ApiResult};

/// Who is looking at the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub id: Uuid,
    pub operator: bool,
}

/// A published plugin version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginVersion {
    pub plugin: String,
    pub version: String,
    /// `<plugin>@<version>`: how routing tables and sessions name it.
    pub version_ref: String,
    /// sha256 of its bytes.
    pub digest: String,
    pub kind: PluginKind,
    pub wit: String,
    pub agent_types: Vec<String>,
    pub capabilities: Vec<Capability>,
    pub http_hosts: Vec<String>,
    pub limits: LimitsWanted,
    pub description: String,
    /// The publisher's email.
    pub publisher: String,
    /// The fingerprint of the key that signed it.
    pub key_fingerprint: String,
    /// `approved` (routable) or `pending` (waiting for an operator).
    pub approval: String,
    /// What needs (or needed) an operator's approval.
    pub approval_reasons: Vec<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub approved_at: Option<OffsetDateTime>,
    /// Withdrawn by an operator: it serves no further turn.
    pub deprecated: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    manifest: Value,
    digest: String,
    kind: String,
    wit_package: String,
    publisher: String,
    public_key: Vec<u8>,
    approval: String,
    approval_reasons: Value,
    approved_at: Option<OffsetDateTime>,
    deprecated: bool,
    created_at: OffsetDateTime,
}

impl VersionRow {
    fn view(self) -> ApiResult<PluginVersion> {
        let manifest: Manifest = serde_json::from_value(self.manifest).map_err(|error| {
            ApiError::Internal(anyhow::anyhow!("a stored manifest does not parse: {error}"))
        })?;
        Ok(PluginVersion {
            version_ref: manifest.version_ref(),
            plugin: manifest.name,
            version: manifest.version,
            digest: self.digest,
            kind: parse_kind(&self.kind).unwrap_or(manifest.kind),
            wit: self.wit_package,
            agent_types: manifest.agent_types,
            capabilities: manifest.capabilities,
            http_hosts: manifest.http_hosts,
            limits: manifest.limits,
            description: manifest.description,
            publisher: self.publisher,
            key_fingerprint: signing::fingerprint(&self.public_key),
            approval: self.approval,
            approval_reasons: serde_json::from_value(self.approval_reasons).unwrap_or_default(),
            approved_at: self.approved_at,
            deprecated: self.deprecated,
            published_at: self.created_at,
        })
    }
}

/// The versions the viewer may see, with `condition` on `p` (plugin_versions) and `g` (plugins);
/// `$1` is the viewer's id and `$2` whether they are an operator.
fn versions_query(condition: &str) -> String {
    format!(
        "SELECT p.manifest, p.digest, p.kind, p.wit_package, u.email AS publisher, k.public_key, p.approval, \
                p.approval_reasons, p.approved_at, p.created_at, \
                EXISTS (SELECT 1 FROM agent_versions v WHERE v.plugin_version_id = p.id AND v.status = 'deprecated') \
                    AS deprecated \
         FROM plugin_versions p JOIN plugins g ON g.name = p.plugin_name JOIN users u ON u.id = g.publisher_id \
         JOIN publisher_keys k ON k.id = p.key_id \
         WHERE ($2 OR p.approval = 'approved' OR g.publisher_id = $1) AND {condition}"
    )
}

/// The versions of plugin `name` the viewer may see, newest semver first; 404 when none.
pub async fn versions(db: &PgPool, viewer: Viewer, name: &str) -> ApiResult<Vec<PluginVersion>> {
    let rows: Vec<VersionRow> = sqlx::query_as(&versions_query("p.plugin_name = $3"))
        .bind(viewer.id)
        .bind(viewer.operator)
        .bind(name)
        .fetch_all(db)
        .await?;
    if rows.is_empty() {
        return Err(ApiError::NotFound);
    }
    let mut views = rows.into_iter().map(VersionRow::view).collect::<ApiResult<Vec<_>>>()?;
    views.sort_by_key(|view| std::cmp::Reverse(semver_of(&view.version)));
    Ok(views)
}

/// One version, if the viewer may see it.
pub async fn version(db: &PgPool, viewer: Viewer, name: &str, version: &str) -> ApiResult<PluginVersion> {
    let row: Option<VersionRow> = sqlx::query_as(&versions_query("p.plugin_name = $3 AND p.version = $4"))
        .bind(viewer.id)
        .bind(viewer.operator)
        .bind(name)
        .bind(version)
        .fetch_optional(db)
        .await?;
    row.ok_or(ApiError::NotFound)?.view()
}

fn semver_of(version: &str) -> Option<semver::Version> {
    semver::Version::parse(version).ok()
}

/// A plugin in the catalog.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginSummary {
    pub name: String,
    pub publisher: String,
    /// Its highest version the viewer may see.
    pub latest_version: String,
    /// How many versions the viewer may see.
    pub versions: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Every plugin with at least one version the viewer may see, by name.
pub async fn list(db: &PgPool, viewer: Viewer) -> ApiResult<Vec<PluginSummary>> {
    let rows: Vec<(String, String, OffsetDateTime, Vec<String>)> = sqlx::query_as(
        "SELECT g.name, u.email, g.created_at, array_agg(p.version) \
         FROM plugins g JOIN users u ON u.id = g.publisher_id JOIN plugin_versions p ON p.plugin_name = g.name \
         WHERE ($2 OR p.approval = 'approved' OR g.publisher_id = $1) \
         GROUP BY g.name, u.email, g.created_at ORDER BY g.name",
    )
    .bind(viewer.id)
    .bind(viewer.operator)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, publisher, created_at, versions)| PluginSummary {
            name,
            publisher,
            latest_version: versions.iter().max_by_key(|v| semver_of(v)).cloned().unwrap_or_default(),
            versions: versions.len() as i64,
            created_at,
        })
        .collect())
}

/// The outcome of a publish.
#[derive(Debug)]
pub struct Published {
    pub version: PluginVersion,
    /// `false` when exactly this package was already published (nothing changed).
    pub created: bool,
    /// The compiled plugin, for the caller to keep (absent when nothing was compiled).
    pub prepared: Option<PreparedAgent>,
}

/// Verifies `submission` (every check, compiling last), stores its bytes and records it. Versions
/// needing no approval are routable at once; the others wait for an operator.
pub async fn publish(
    db: &PgPool,
    artifacts: &dyn ArtifactStore,
    runtime: &AgentRuntime,
    caller: Viewer,
    submission: Submission,
) -> ApiResult<Published> {
    let refused = |refusal: Refusal| {
        tracing::info!(
            plugin = submission.manifest.name,
            version = submission.manifest.version,
            reason = refusal.reason(),
            "plugin refused"
        );
        ApiError::from(refusal)
    };
    let checked =
        verify::check_before_compiling(db, caller.id, caller.operator, &submission).await.map_err(refused)?;
    let manifest = &submission.manifest;
    let viewer = Viewer { id: checked.publisher_id, operator: true };
    if checked.existing.is_some() {
        let version = version(db, viewer, &manifest.name, &manifest.version).await?;
        return Ok(Published { version, created: false, prepared: None });
    }
    verify::check_wit_package(manifest).map_err(refused)?;
    let prepared =
        runtime.prepare(&checked.digest, &submission.component, manifest.kind).await.map_err(|error| {
            match error {
                AgentLoadError::Cache { .. } | AgentLoadError::Interrupted(_) => {
                    ApiError::Internal(anyhow::Error::new(error).context("compiling a plugin"))
                }
                refusal => refused(Refusal::WitIncompatible(refusal.to_string())),
            }
        })?;
    verify::check_description(manifest, &prepared.description).map_err(refused)?;

    let mut type_limits = Vec::new();
    for agent_type in &manifest.agent_types {
        type_limits.push((agent_type.clone(), type_limits_of(db, agent_type).await?));
    }
    let reasons = manifest.approval_reasons(&type_limits);
    let stored = artifacts.put(&submission.component).await.map_err(ApiError::Internal)?;
    if stored != checked.digest {
        return Err(ApiError::Internal(anyhow::anyhow!("the artifact store named the plugin {stored}")));
    }
    record(db, manifest, &checked, &reasons).await.map_err(refused)?;
    tracing::info!(
        plugin = manifest.name,
        version = manifest.version,
        approval_needed = reasons.len(),
        "plugin published"
    );
    let version = version(db, viewer, &manifest.name, &manifest.version).await?;
    Ok(Published { version, created: true, prepared: Some(prepared) })
}

/// The limits of `agent_type`: its defaults with the operators' overrides.
pub async fn type_limits_of(db: &PgPool, agent_type: &str) -> ApiResult<AgentLimits> {
    let overrides: Option<Value> =
        sqlx::query_scalar("SELECT configuration -> 'limits' FROM agent_registry WHERE agent_type = $1")
            .bind(agent_type)
            .fetch_optional(db)
            .await?
            .flatten();
    let defaults = AgentLimits::for_agent_type(agent_type);
    Ok(overrides.and_then(|overrides| defaults.with_overrides(&overrides).ok()).unwrap_or(defaults))
}

/// Writes the plugin (if new), its version, its agent types and their versions, in one transaction.
async fn record(
    db: &PgPool,
    manifest: &Manifest,
    checked: &verify::Checked,
    reasons: &[String],
) -> Result<(), Refusal> {
    let mut tx = db.begin().await.map_err(ApiError::from)?;
    sqlx::query("INSERT INTO plugins (name, publisher_id) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(&manifest.name)
        .bind(checked.publisher_id)
        .execute(&mut *tx)
        .await
        .map_err(ApiError::from)?;
    // Checked again under the transaction: another publisher may have taken the name meanwhile.
    let owner: Uuid = sqlx::query_scalar("SELECT publisher_id FROM plugins WHERE name = $1 FOR UPDATE")
        .bind(&manifest.name)
        .fetch_one(&mut *tx)
        .await
        .map_err(ApiError::from)?;
    if owner != checked.publisher_id {
        return Err(Refusal::NameTaken(manifest.name.clone()));
    }
    let approval = if reasons.is_empty() { "approved" } else { "pending" };
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO plugin_versions (id, plugin_name, version, digest, kind, wit_package, manifest, signature, key_id, \
                                      approval, approval_reasons, approved_at, published_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, CASE WHEN $10 = 'approved' THEN now() END, $12)",
    )
    .bind(id)
    .bind(&manifest.name)
    .bind(&manifest.version)
    .bind(&checked.digest)
    .bind(kind_name(manifest.kind))
    .bind(&manifest.wit)
    .bind(serde_json::to_value(manifest).map_err(|e| ApiError::Internal(e.into()))?)
    .bind(&checked.signature)
    .bind(checked.key_id)
    .bind(approval)
    .bind(serde_json::to_value(reasons).map_err(|e| ApiError::Internal(e.into()))?)
    .bind(checked.publisher_id)
    .execute(&mut *tx)
    .await;
    if let Err(error) = inserted {
        return Err(match ApiError::from(error) {
            // Published meanwhile by a concurrent request: answer as if it had been first.
            ApiError::Conflict(_) => Refusal::AlreadyPublished {
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                digest: checked.digest.clone(),
            },
            other => Refusal::Internal(other),
        });
    }
    for agent_type in &manifest.agent_types {
        sqlx::query(
            "INSERT INTO agent_registry (id, agent_type, status) VALUES ($1, $2, 'testing') ON CONFLICT (agent_type) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(agent_type)
        .execute(&mut *tx)
        .await
        .map_err(ApiError::from)?;
        sqlx::query(
            "INSERT INTO agent_versions (id, agent_type, version, artifact_digest, status, plugin_version_id) \
             VALUES ($1, $2, $3, $4, 'testing', $5)",
        )
        .bind(Uuid::now_v7())
        .bind(agent_type)
        .bind(manifest.version_ref())
        .bind(&checked.digest)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(ApiError::from)?;
        notify(&mut tx, agent_type).await?;
    }
    tx.commit().await.map_err(ApiError::from)?;
    Ok(())
}

/// Approves version `version` of plugin `name` (its capabilities and limits): it becomes routable.
/// `operator` is who approved (`None` from the command line).
pub async fn approve(db: &PgPool, operator: Option<Uuid>, name: &str, version: &str) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    let id: Option<Uuid> = sqlx::query_scalar(
        "UPDATE plugin_versions SET approval = 'approved', approved_by = COALESCE(approved_by, $3), \
                approved_at = COALESCE(approved_at, now()) \
         WHERE plugin_name = $1 AND version = $2 RETURNING id",
    )
    .bind(name)
    .bind(version)
    .bind(operator)
    .fetch_optional(&mut *tx)
    .await?;
    let id = id.ok_or(ApiError::NotFound)?;
    notify_types(&mut tx, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Withdraws version `version` of plugin `name`: it serves no further turn (sessions that were on it
/// move to a version of the routing table). Refused while a routing table sends it traffic.
pub async fn deprecate(db: &PgPool, name: &str, version: &str) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    let id: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM plugin_versions WHERE plugin_name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
    let id = id.ok_or(ApiError::NotFound)?;
    // Locking its agent types first: no routing change can send it traffic between check and update.
    sqlx::query(
        "SELECT 1 FROM agent_registry WHERE agent_type IN \
            (SELECT agent_type FROM agent_versions WHERE plugin_version_id = $1) \
         ORDER BY agent_type FOR UPDATE",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let routed: Vec<String> = sqlx::query_scalar(
        "SELECT r.agent_type FROM agent_versions v JOIN agent_registry r ON r.agent_type = v.agent_type \
         JOIN agent_routing_revisions rev ON rev.agent_type = r.agent_type AND rev.revision = r.routing_revision \
         WHERE v.plugin_version_id = $1 AND COALESCE((rev.weights ->> v.version)::bigint, 0) > 0 \
         ORDER BY r.agent_type",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    if !routed.is_empty() {
        return Err(ApiError::Conflict(format!(
            "{name}@{version} still receives traffic for {}; route it out first",
            routed.join(", ")
        )));
    }
    sqlx::query("UPDATE agent_versions SET status = 'deprecated' WHERE plugin_version_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    notify_types(&mut tx, id).await?;
    tx.commit().await?;
    Ok(())
}

async fn notify_types(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, plugin_version: Uuid) -> ApiResult<()> {
    let types: Vec<String> =
        sqlx::query_scalar("SELECT agent_type FROM agent_versions WHERE plugin_version_id = $1")
            .bind(plugin_version)
            .fetch_all(&mut **tx)
            .await?;
    for agent_type in types {
        notify(tx, &agent_type).await?;
    }
    Ok(())
}
