//! Routing: per agent type, a table of plugin versions and their weights, which decides the version
//! that serves a session's first turn (later turns stick to it, see `agents::dispatch`).
//!
//! The database holds the truth (`agent_routing_revisions`, changed in `change.rs`). Every process
//! keeps the tables in memory ([`RoutingTables`]), so a pick is a random number and a binary search,
//! never a query. A change commits, then `NOTIFY`s [`CHANNEL`] with the agent type; each process
//! (its own included) reloads that type's table. A process that lost its listening connection
//! reloads every table when it is back, so a missed notification delays a change, never loses it.

pub mod change;

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use anyhow::Context;
use rand::Rng;
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::package::{Manifest, PluginKind, parse_kind};
use crate::agents::runtime::{AgentLimits, Grants};

/// The Postgres channel routing changes are announced on; the payload is the agent type.
pub const CHANNEL: &str = "vibe_agent_routing";

/// A version that may serve turns: approved, not deprecated.
#[derive(Debug)]
pub struct RoutableVersion {
    /// `<plugin>@<semver>`, as routing tables and sessions name it.
    pub version: String,
    pub plugin_version_id: Uuid,
    /// The package's sha256, which names its artifact and its compiled form.
    pub digest: String,
    pub kind: PluginKind,
    /// Its signed manifest.
    pub manifest: Manifest,
    /// What its turns may use: every capability of its manifest (all approved, or it would not be
    /// routable) and the outbound hosts it declared.
    pub grants: Grants,
    /// Its turns' limits: the agent type's (with the operators' overrides), replaced by those the
    /// manifest asked for (approved with it).
    pub limits: AgentLimits,
}

/// One agent type's table, as this process knows it.
#[derive(Debug, Default)]
pub struct TypeTable {
    /// The routing revision in force (`None` before the first routing).
    pub revision: Option<i32>,
    /// Routed versions with positive weight and the running total of weights up to each.
    picks: Vec<(u64, Arc<RoutableVersion>)>,
    /// Every routable version of the type, routed or not (sessions stuck to one keep it).
    routable: HashMap<String, Arc<RoutableVersion>>,
}

impl TypeTable {
    /// A weighted random pick among the routed versions.
    pub fn pick(&self) -> Option<Arc<RoutableVersion>> {
        let total = self.picks.last()?.0;
        let ticket = rand::thread_rng().gen_range(0..total);
        let index = self.picks.partition_point(|(running, _)| *running <= ticket);
        self.picks.get(index).map(|(_, version)| version.clone())
    }

    /// The routable version named `version`, routed or not.
    pub fn routable(&self, version: &str) -> Option<Arc<RoutableVersion>> {
        self.routable.get(version).cloned()
    }

    /// The routed versions and their weights.
    pub fn weights(&self) -> Vec<(String, u64)> {
        let mut previous = 0;
        self.picks
            .iter()
            .map(|(running, version)| {
                let weight = running - previous;
                previous = *running;
                (version.version.clone(), weight)
            })
            .collect()
    }
}

/// This process's copy of every agent type's routing. Cheap to clone.
#[derive(Clone)]
pub struct RoutingTables {
    inner: Arc<Inner>,
}

struct Inner {
    db: PgPool,
    tables: RwLock<HashMap<String, Arc<TypeTable>>>,
    /// Reloads run one at a time, each reading the database afresh, so the last one wins.
    reloading: tokio::sync::Mutex<()>,
    /// The agent types whose table just changed in this process.
    changed: broadcast::Sender<String>,
}

impl RoutingTables {
    /// Loads every table and starts following changes.
    pub async fn start(db: PgPool) -> anyhow::Result<Self> {
        let (changed, _) = broadcast::channel(256);
        let inner = Arc::new(Inner {
            db: db.clone(),
            tables: RwLock::default(),
            reloading: Default::default(),
            changed,
        });
        let tables = RoutingTables { inner };
        // Listening before loading: a change committed in between is both loaded and announced.
        let listener = listen(&db).await?;
        tables.reload_all().await?;
        tokio::spawn(follow(Arc::downgrade(&tables.inner), listener));
        Ok(tables)
    }

    /// The table of `agent_type` (empty if it has none).
    pub fn table(&self, agent_type: &str) -> Arc<TypeTable> {
        let tables = self.inner.tables.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        tables.get(agent_type).cloned().unwrap_or_default()
    }

    /// Every agent type this process has a table for.
    pub fn known_types(&self) -> Vec<String> {
        let tables = self.inner.tables.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        tables.keys().cloned().collect()
    }

    /// The agent types whose table changed in this process, as they change (to warm new versions up).
    pub fn changes(&self) -> broadcast::Receiver<String> {
        self.inner.changed.subscribe()
    }

    /// Reloads the table of `agent_type` from the database.
    pub async fn reload(&self, agent_type: &str) -> anyhow::Result<()> {
        let _one_at_a_time = self.inner.reloading.lock().await;
        let table = load(&self.inner.db, agent_type).await?;
        let changed = {
            let mut tables = self.inner.tables.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            let before = tables.get(agent_type).map(|t| (t.revision, t.weights(), t.routable.len()));
            let after = (table.revision, table.weights(), table.routable.len());
            tables.insert(agent_type.to_owned(), Arc::new(table));
            before != Some(after)
        };
        if changed {
            let _ = self.inner.changed.send(agent_type.to_owned());
        }
        Ok(())
    }

    /// Reloads every agent type's table.
    pub async fn reload_all(&self) -> anyhow::Result<()> {
        let types: Vec<String> =
            sqlx::query_scalar("SELECT agent_type FROM agent_registry ORDER BY agent_type")
                .fetch_all(&self.inner.db)
                .await
                .context("listing agent types")?;
        for agent_type in types {
            self.reload(&agent_type).await?;
        }
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    version: String,
    plugin_version_id: Uuid,
    digest: String,
    kind: String,
    manifest: Value,
}

/// Reads `agent_type`'s routing revision and its routable versions.
async fn load(db: &PgPool, agent_type: &str) -> anyhow::Result<TypeTable> {
    let current: Option<(Option<i32>, Option<Value>, Option<Value>)> = sqlx::query_as(
        "SELECT r.routing_revision, rev.weights, r.configuration -> 'limits' FROM agent_registry r \
         LEFT JOIN agent_routing_revisions rev ON rev.agent_type = r.agent_type AND rev.revision = r.routing_revision \
         WHERE r.agent_type = $1",
    )
    .bind(agent_type)
    .fetch_optional(db)
    .await
    .context("reading the routing revision")?;
    let Some((revision, weights, overrides)) = current else { return Ok(TypeTable::default()) };
    let defaults = AgentLimits::for_agent_type(agent_type);
    let type_limits = match overrides {
        Some(overrides) => defaults.with_overrides(&overrides).unwrap_or_else(|error| {
            tracing::error!(
                agent_type,
                error,
                "the stored limits of an agent type do not apply; using the defaults"
            );
            defaults
        }),
        None => defaults,
    };
    let rows: Vec<VersionRow> = sqlx::query_as(
        "SELECT v.version, v.plugin_version_id, p.digest, p.kind, p.manifest \
         FROM agent_versions v JOIN plugin_versions p ON p.id = v.plugin_version_id \
         WHERE v.agent_type = $1 AND v.status <> 'deprecated' AND p.approval = 'approved'",
    )
    .bind(agent_type)
    .fetch_all(db)
    .await
    .context("reading the routable versions")?;
    let mut routable = HashMap::new();
    for row in rows {
        let Some(kind) = parse_kind(&row.kind) else { continue };
        let Ok(manifest) = serde_json::from_value::<Manifest>(row.manifest) else {
            tracing::error!(
                agent_type,
                version = row.version,
                "a stored manifest does not parse; not routed"
            );
            continue;
        };
        let grants = match Grants::new(manifest.capabilities.iter().copied(), &manifest.http_hosts) {
            Ok(grants) => grants,
            Err(error) => {
                tracing::error!(
                    agent_type,
                    version = row.version,
                    error,
                    "a version's grants do not apply; not routed"
                );
                continue;
            }
        };
        let wanted = serde_json::to_value(&manifest.limits).unwrap_or(Value::Null);
        let limits = type_limits.with_overrides(&wanted).unwrap_or(type_limits);
        let version = RoutableVersion {
            version: row.version.clone(),
            plugin_version_id: row.plugin_version_id,
            digest: row.digest,
            kind,
            manifest,
            grants,
            limits,
        };
        routable.insert(row.version, Arc::new(version));
    }
    let mut picks = Vec::new();
    let mut running = 0u64;
    let mut entries: Vec<(String, u64)> = weights
        .as_ref()
        .and_then(Value::as_object)
        .map(|map| {
            map.iter().filter_map(|(version, weight)| Some((version.clone(), weight.as_u64()?))).collect()
        })
        .unwrap_or_default();
    entries.sort();
    for (version, weight) in entries {
        match routable.get(&version) {
            Some(entry) if weight > 0 => {
                running += weight;
                picks.push((running, entry.clone()));
            }
            Some(_) => {}
            None => tracing::warn!(agent_type, version, "a routed version is no longer routable; skipped"),
        }
    }
    Ok(TypeTable { revision, picks, routable })
}

async fn listen(db: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(db).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Reloads the tables named by notifications, until the tables are dropped or the pool closes.
async fn follow(tables: Weak<Inner>, mut listener: PgListener) {
    loop {
        let received = listener.try_recv().await;
        let Some(inner) = tables.upgrade() else { return };
        let tables = RoutingTables { inner };
        match received {
            Ok(Some(notification)) => {
                let mut types = vec![notification.payload().to_owned()];
                while let Some(more) = listener.next_buffered() {
                    types.push(more.payload().to_owned());
                }
                types.sort();
                types.dedup();
                for agent_type in types {
                    if let Err(error) = tables.reload(&agent_type).await {
                        tracing::error!(
                            agent_type,
                            error = format!("{error:#}"),
                            "cannot reload a routing table"
                        );
                    }
                }
            }
            // The connection was lost and re-established: changes announced meanwhile were missed.
            Ok(None) => reload_all_logged(&tables).await,
            Err(_) if tables.inner.db.is_closed() => return,
            Err(error) => {
                tracing::warn!(error = %error, "routing listener error; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
                match listen(&tables.inner.db).await {
                    Ok(fresh) => {
                        listener = fresh;
                        reload_all_logged(&tables).await;
                    }
                    Err(_) if tables.inner.db.is_closed() => return,
                    Err(error) => tracing::warn!(error = %error, "routing listener reconnect failed"),
                }
            }
        }
    }
}

async fn reload_all_logged(tables: &RoutingTables) {
    if let Err(error) = tables.reload_all().await {
        tracing::error!(error = format!("{error:#}"), "cannot reload the routing tables");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(name: &str) -> Arc<RoutableVersion> {
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "name": "p", "version": "1.0.0", "agent_types": ["a"], "wit": "vibe:agent@0.1.0",
            "kind": "component", "publisher": "a@b.c"
        }))
        .unwrap();
        Arc::new(RoutableVersion {
            version: name.into(),
            plugin_version_id: Uuid::nil(),
            digest: String::new(),
            kind: PluginKind::Component,
            manifest,
            grants: Grants::none(),
            limits: AgentLimits::default(),
        })
    }

    #[test]
    fn picks_follow_the_weights() {
        let table = TypeTable {
            revision: Some(1),
            picks: vec![(1, version("a")), (4, version("b"))],
            routable: HashMap::new(),
        };
        assert_eq!(table.weights(), vec![("a".to_owned(), 1), ("b".to_owned(), 3)]);
        let picks = 40_000;
        let a = (0..picks).filter(|_| table.pick().is_some_and(|v| v.version == "a")).count();
        // 1 in 4 expected: 10,000 ± 5 standard deviations (≈ 433).
        assert!((9_567..=10_433).contains(&a), "{a} of {picks} picks went to a");
        assert!(TypeTable::default().pick().is_none(), "an empty table picks nothing");
    }
}
