//! Changing an agent type's routing: setting a new table, rolling back to the one before, reading
//! the one in force. Each change appends a revision, moves `agent_registry.routing_revision`, updates
//! the versions' status (routed: active; unrouted: testing) and notifies every process, in one
//! transaction, serialised per agent type by a row lock.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::CHANNEL;
use crate::error::{ApiError, ApiResult};

/// The most versions one table may name.
const MAX_ENTRIES: usize = 100;
/// The largest weight of one version.
pub const MAX_WEIGHT: u32 = 1_000_000;

/// A routing revision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoutingView {
    pub agent_type: String,
    /// The revision (`None`: never routed).
    pub revision: Option<i32>,
    /// `<plugin>@<semver>` → weight; a version's share of new sessions is its weight over the sum.
    pub weights: BTreeMap<String, u32>,
    /// `set` or `rollback`.
    pub kind: Option<String>,
    pub changed_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub changed_at: Option<OffsetDateTime>,
    /// The revision a rollback would restore, if any.
    pub rolls_back_to: Option<i32>,
}

#[derive(sqlx::FromRow)]
struct RevisionRow {
    revision: i32,
    parent: Option<i32>,
    kind: String,
    weights: Value,
    changed_by: Option<Uuid>,
    changed_at: OffsetDateTime,
}

impl RevisionRow {
    fn view(self, agent_type: &str) -> RoutingView {
        RoutingView {
            agent_type: agent_type.to_owned(),
            revision: Some(self.revision),
            weights: weights_of(&self.weights),
            kind: Some(self.kind),
            changed_by: self.changed_by,
            changed_at: Some(self.changed_at),
            rolls_back_to: self.parent,
        }
    }
}

fn weights_of(value: &Value) -> BTreeMap<String, u32> {
    value
        .as_object()
        .map(|map| {
            map.iter()
                .filter_map(|(version, weight)| {
                    Some((version.clone(), u32::try_from(weight.as_u64()?).ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

const REVISION_COLUMNS: &str = "revision, parent, kind, weights, changed_by, changed_at";

/// The routing in force for `agent_type`; 404 for an unknown type.
pub async fn current(db: &PgPool, agent_type: &str) -> ApiResult<RoutingView> {
    let revision: Option<Option<i32>> =
        sqlx::query_scalar("SELECT routing_revision FROM agent_registry WHERE agent_type = $1")
            .bind(agent_type)
            .fetch_optional(db)
            .await?;
    let Some(revision) = revision.ok_or(ApiError::NotFound)? else { return Ok(empty(agent_type)) };
    let row: RevisionRow = sqlx::query_as(&format!(
        "SELECT {REVISION_COLUMNS} FROM agent_routing_revisions WHERE agent_type = $1 AND revision = $2"
    ))
    .bind(agent_type)
    .bind(revision)
    .fetch_one(db)
    .await?;
    Ok(row.view(agent_type))
}

/// The latest `limit` revisions of `agent_type`, newest first.
pub async fn history(db: &PgPool, agent_type: &str, limit: i64) -> ApiResult<Vec<RoutingView>> {
    let rows: Vec<RevisionRow> = sqlx::query_as(&format!(
        "SELECT {REVISION_COLUMNS} FROM agent_routing_revisions WHERE agent_type = $1 ORDER BY revision DESC LIMIT $2"
    ))
    .bind(agent_type)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|row| row.view(agent_type)).collect())
}

fn empty(agent_type: &str) -> RoutingView {
    RoutingView {
        agent_type: agent_type.to_owned(),
        revision: None,
        weights: BTreeMap::new(),
        kind: None,
        changed_by: None,
        changed_at: None,
        rolls_back_to: None,
    }
}

/// Makes `requested` (version → weight) the routing of `agent_type`. A version is named
/// `<plugin>@<semver>`, or by its bare semver when exactly one plugin serving the type has it.
/// With `expected_revision`, the change is refused (409) if the routing moved on meanwhile.
pub async fn set(
    db: &PgPool,
    agent_type: &str,
    requested: &BTreeMap<String, u32>,
    expected_revision: Option<i32>,
    by: Option<Uuid>,
) -> ApiResult<RoutingView> {
    if requested.is_empty() || requested.len() > MAX_ENTRIES {
        return Err(ApiError::validation("weights", format!("name 1 to {MAX_ENTRIES} versions")));
    }
    if requested.values().any(|weight| *weight > MAX_WEIGHT) {
        return Err(ApiError::validation("weights", format!("weights are 0 to {MAX_WEIGHT}")));
    }
    if requested.values().all(|weight| *weight == 0) {
        return Err(ApiError::validation("weights", "at least one version needs a positive weight"));
    }
    let mut tx = db.begin().await?;
    let current = lock(&mut tx, agent_type).await?;
    if let Some(expected) = expected_revision
        && Some(expected) != current
    {
        return Err(ApiError::Conflict(format!(
            "the routing of {agent_type} changed meanwhile (now revision {}); read it again",
            current.map_or_else(|| "none".to_owned(), |r| r.to_string())
        )));
    }
    let versions = versions(&mut tx, agent_type).await?;
    let mut weights = BTreeMap::new();
    for (name, weight) in requested {
        let version = resolve(&versions, agent_type, name)?;
        if weights.insert(version.version.clone(), *weight).is_some() {
            return Err(ApiError::validation("weights", format!("{} is named twice", version.version)));
        }
        if *weight > 0 {
            routable(version, agent_type).map_err(|message| ApiError::validation("weights", message))?;
        }
    }
    let view = append(&mut tx, agent_type, &weights, "set", current, by).await?;
    tx.commit().await?;
    Ok(view)
}

/// Makes `requested` the routing of `agent_type` only if it has none yet, or if the routing in force
/// was set by `owner` too; otherwise (an operator routed it) changes nothing and answers `None`.
/// The platform routes its built-in agents this way: it never overrides an operator's routing.
/// Setting the table already in force is a no-op (`None`).
pub async fn set_if_owned(
    db: &PgPool,
    agent_type: &str,
    requested: &BTreeMap<String, u32>,
    owner: Uuid,
) -> ApiResult<Option<RoutingView>> {
    let mut tx = db.begin().await?;
    let current = lock(&mut tx, agent_type).await?;
    if let Some(revision) = current {
        let (changed_by, weights): (Option<Uuid>, Value) = sqlx::query_as(
            "SELECT changed_by, weights FROM agent_routing_revisions WHERE agent_type = $1 AND revision = $2",
        )
        .bind(agent_type)
        .bind(revision)
        .fetch_one(&mut *tx)
        .await?;
        if changed_by != Some(owner) || weights_of(&weights) == *requested {
            return Ok(None);
        }
    }
    let versions = versions(&mut tx, agent_type).await?;
    let mut weights = BTreeMap::new();
    for (name, weight) in requested {
        let version = resolve(&versions, agent_type, name)?;
        if *weight > 0 {
            routable(version, agent_type).map_err(|message| ApiError::validation("weights", message))?;
        }
        weights.insert(version.version.clone(), *weight);
    }
    let view = append(&mut tx, agent_type, &weights, "set", current, Some(owner)).await?;
    tx.commit().await?;
    Ok(Some(view))
}

/// Restores the routing that the one in force replaced. Sessions already started keep their
/// versions; new sessions are routed by the restored table.
pub async fn rollback(db: &PgPool, agent_type: &str, by: Option<Uuid>) -> ApiResult<RoutingView> {
    let mut tx = db.begin().await?;
    let current = lock(&mut tx, agent_type).await?;
    let parent: Option<i32> = match current {
        Some(revision) => {
            sqlx::query_scalar(
                "SELECT parent FROM agent_routing_revisions WHERE agent_type = $1 AND revision = $2",
            )
            .bind(agent_type)
            .bind(revision)
            .fetch_one(&mut *tx)
            .await?
        }
        None => None,
    };
    let Some(parent) = parent else {
        return Err(ApiError::Conflict(format!("{agent_type} has no earlier routing to roll back to")));
    };
    let restored: RevisionRow = sqlx::query_as(&format!(
        "SELECT {REVISION_COLUMNS} FROM agent_routing_revisions WHERE agent_type = $1 AND revision = $2"
    ))
    .bind(agent_type)
    .bind(parent)
    .fetch_one(&mut *tx)
    .await?;
    let weights = weights_of(&restored.weights);
    let versions = versions(&mut tx, agent_type).await?;
    for (name, weight) in &weights {
        let version = versions.iter().find(|v| &v.version == name);
        let usable = match version {
            Some(version) if *weight > 0 => routable(version, agent_type),
            Some(_) => Ok(()),
            None => Err(format!("{name} no longer exists")),
        };
        usable.map_err(|message| {
            ApiError::Conflict(format!("cannot roll back to revision {parent}: {message}"))
        })?;
    }
    // Rolling back again undoes the change before the restored one, not this rollback.
    let view = append(&mut tx, agent_type, &weights, "rollback", restored.parent, by).await?;
    tx.commit().await?;
    Ok(view)
}

/// Locks `agent_type`'s registry row and returns its routing revision; 404 for an unknown type.
async fn lock(tx: &mut Transaction<'_, Postgres>, agent_type: &str) -> ApiResult<Option<i32>> {
    let revision: Option<Option<i32>> =
        sqlx::query_scalar("SELECT routing_revision FROM agent_registry WHERE agent_type = $1 FOR UPDATE")
            .bind(agent_type)
            .fetch_optional(&mut **tx)
            .await?;
    revision.ok_or(ApiError::NotFound)
}

#[derive(sqlx::FromRow)]
struct VersionState {
    version: String,
    status: String,
    approval: String,
}

async fn versions(tx: &mut Transaction<'_, Postgres>, agent_type: &str) -> ApiResult<Vec<VersionState>> {
    Ok(sqlx::query_as(
        "SELECT v.version, v.status, p.approval FROM agent_versions v \
         JOIN plugin_versions p ON p.id = v.plugin_version_id WHERE v.agent_type = $1",
    )
    .bind(agent_type)
    .fetch_all(&mut **tx)
    .await?)
}

/// The version `name` refers to among `versions`.
fn resolve<'a>(versions: &'a [VersionState], agent_type: &str, name: &str) -> ApiResult<&'a VersionState> {
    if let Some(exact) = versions.iter().find(|v| v.version == name) {
        return Ok(exact);
    }
    let suffix = format!("@{name}");
    let mut matching = versions.iter().filter(|v| !name.contains('@') && v.version.ends_with(&suffix));
    match (matching.next(), matching.next()) {
        (Some(only), None) => Ok(only),
        (Some(_), Some(_)) => Err(ApiError::validation(
            "weights",
            format!("several plugins serving {agent_type} have version {name}; name it as <plugin>@{name}"),
        )),
        _ => Err(ApiError::validation("weights", format!("{agent_type} has no version {name}"))),
    }
}

/// Whether `version` may receive traffic; the error says why not.
fn routable(version: &VersionState, agent_type: &str) -> Result<(), String> {
    if version.approval != "approved" {
        return Err(format!(
            "{} waits for an operator to approve its capabilities before it can serve {agent_type}",
            version.version
        ));
    }
    if version.status == "deprecated" {
        return Err(format!("{} is deprecated", version.version));
    }
    Ok(())
}

/// Appends a revision with `weights` and makes it the one in force.
async fn append(
    tx: &mut Transaction<'_, Postgres>,
    agent_type: &str,
    weights: &BTreeMap<String, u32>,
    kind: &str,
    parent: Option<i32>,
    by: Option<Uuid>,
) -> ApiResult<RoutingView> {
    let row: RevisionRow = sqlx::query_as(&format!(
        "INSERT INTO agent_routing_revisions (agent_type, revision, parent, kind, weights, changed_by) \
         SELECT $1, COALESCE(max(revision), 0) + 1, $2, $3, $4, $5 FROM agent_routing_revisions WHERE agent_type = $1 \
         RETURNING {REVISION_COLUMNS}"
    ))
    .bind(agent_type)
    .bind(parent)
    .bind(kind)
    .bind(serde_json::to_value(weights).map_err(anyhow::Error::from)?)
    .bind(by)
    .fetch_one(&mut **tx)
    .await?;
    let routed: Vec<&String> = weights.iter().filter(|(_, w)| **w > 0).map(|(v, _)| v).collect();
    sqlx::query("UPDATE agent_registry SET routing_revision = $2, updated_at = now() WHERE agent_type = $1")
        .bind(agent_type)
        .bind(row.revision)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE agent_versions SET status = CASE WHEN version = ANY($2) THEN 'active' ELSE 'testing' END \
         WHERE agent_type = $1 AND status <> 'deprecated'",
    )
    .bind(agent_type)
    .bind(&routed)
    .execute(&mut **tx)
    .await?;
    notify(tx, agent_type).await?;
    Ok(row.view(agent_type))
}

/// Announces (on commit) that `agent_type`'s routing or routable versions changed.
pub async fn notify(tx: &mut Transaction<'_, Postgres>, agent_type: &str) -> ApiResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(agent_type).execute(&mut **tx).await?;
    Ok(())
}
