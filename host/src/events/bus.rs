//! The event bus: publish through Postgres, receive every process's events locally.
//!
//! One relay task per process LISTENs, loads each announced event together with its audience (one query per
//! event, or one for several when they queued up) and hands it to the process's subscribers. When the listening
//! connection drops, the relay reconnects and replays from the table what it missed, so a connected
//! client loses nothing to a database restart.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use time::OffsetDateTime;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use super::visibility::{AUDIENCE_COLUMNS, AUDIENCE_JOINS, Audience, AudienceRow};

/// The Postgres channel events are announced on.
pub const CHANNEL: &str = "vibe_events";

/// The seed's event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventKind {
    #[serde(rename = "agent:message")]
    AgentMessage,
    #[serde(rename = "agent:thinking")]
    AgentThinking,
    #[serde(rename = "agent:tool_call")]
    AgentToolCall,
    #[serde(rename = "build:progress")]
    BuildProgress,
    #[serde(rename = "app:status")]
    AppStatus,
    #[serde(rename = "notification")]
    Notification,
    #[serde(rename = "spec:updated")]
    SpecUpdated,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::AgentMessage => "agent:message",
            EventKind::AgentThinking => "agent:thinking",
            EventKind::AgentToolCall => "agent:tool_call",
            EventKind::BuildProgress => "build:progress",
            EventKind::AppStatus => "app:status",
            EventKind::Notification => "notification",
            EventKind::SpecUpdated => "spec:updated",
        }
    }
}

/// An event to publish. Exactly who may see it follows from its idea, its app or its user.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub idea_id: Option<Uuid>,
    pub app_id: Option<Uuid>,
    /// For events meant for one person (notifications).
    pub user_id: Option<Uuid>,
    pub data: serde_json::Value,
}

impl Event {
    /// A `notification` for `user_id` alone.
    pub fn notification(user_id: Uuid, data: serde_json::Value) -> Event {
        Event { kind: EventKind::Notification, idea_id: None, app_id: None, user_id: Some(user_id), data }
    }
}

/// An event as stored and as sent to clients: `{"id","type","idea_id"?,"app_id"?,"data","at"}`.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct StoredEvent {
    /// Increasing id; a reconnecting client passes the last one it saw as `since`.
    pub id: i64,
    #[serde(rename = "type")]
    #[sqlx(rename = "kind")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idea_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<Uuid>,
    #[serde(skip)]
    pub user_id: Option<Uuid>,
    pub data: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// An event as delivered to this process's subscribers: the stored event and who may see it.
#[derive(Debug)]
pub struct LiveEvent {
    pub event: StoredEvent,
    pub audience: Audience,
}

/// Publishes events and hands this process's subscribers every event of the cluster.
#[derive(Clone)]
pub struct EventBus {
    db: PgPool,
    local: broadcast::Sender<Arc<LiveEvent>>,
    /// Set to `true` when the server shuts down; live connections hold a receiver and close on it.
    closing: Arc<watch::Sender<bool>>,
}

/// How many events a subscriber may fall behind before it is told it lagged (and catches up from the table).
const LOCAL_CAPACITY: usize = 1024;
/// How many missed events the relay loads at a time when it replays after reconnecting.
const REPLAY_PAGE: i64 = 500;

impl EventBus {
    /// Connects the listener and starts relaying notifications to local subscribers.
    ///
    /// The relay stops when the pool is closed (it holds one of the pool's connections while listening).
    pub async fn start(db: PgPool) -> anyhow::Result<Self> {
        Self::with_capacity(db, LOCAL_CAPACITY).await
    }

    /// [`EventBus::start`] with room for `capacity` undelivered events per subscriber (tests make it small
    /// to exercise the lagging path).
    pub async fn with_capacity(db: PgPool, capacity: usize) -> anyhow::Result<Self> {
        let (local, _) = broadcast::channel(capacity.max(1));
        let listener = listen(&db).await?;
        // Listening before reading the high-water mark: an event committed in between is both announced
        // and above the mark, never neither.
        let (last,): (i64,) =
            sqlx::query_as("SELECT COALESCE(max(id), 0) FROM events").fetch_one(&db).await?;
        let (closing, _) = watch::channel(false);
        let bus = EventBus { db: db.clone(), local: local.clone(), closing: Arc::new(closing) };
        tokio::spawn(relay(listener, db, local, last));
        Ok(bus)
    }

    /// Stores `event` and announces it to every process.
    pub async fn publish(&self, event: Event) -> anyhow::Result<i64> {
        Ok(publish_with(&self.db, &event).await?)
    }

    /// Every event published anywhere in the cluster from now on, with its audience.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.local.subscribe()
    }

    /// Watches for shutdown: the value turns `true` when live connections must close.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Tells every live connection of this process to close, and waits until they have (or `grace` passed),
    /// so that clients get a close frame rather than a dropped socket.
    pub async fn close_connections(&self, grace: Duration) {
        self.closing.send_replace(true);
        // Each connection holds a receiver until it has sent its close frame.
        let _ = tokio::time::timeout(grace, self.closing.closed()).await;
    }
}

/// Stores `event` and announces it through `executor`. Inside a transaction the event is stored
/// and announced only if the transaction commits (Postgres delivers a NOTIFY at commit), so an
/// event about a write goes out exactly when the write lands.
pub async fn publish_with<'e>(executor: impl sqlx::PgExecutor<'e>, event: &Event) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "WITH stored AS (INSERT INTO events (kind, idea_id, app_id, user_id, data) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id) \
         SELECT id FROM stored, pg_notify($6, (SELECT id FROM stored)::text)",
    )
    .bind(event.kind.as_str())
    .bind(event.idea_id)
    .bind(event.app_id)
    .bind(event.user_id)
    .bind(&event.data)
    .bind(CHANNEL)
    .fetch_one(executor)
    .await
}

/// [`publish_with`] on a connection the caller holds (in its transaction or not).
pub async fn publish_in(conn: &mut sqlx::PgConnection, event: &Event) -> sqlx::Result<i64> {
    publish_with(conn, event).await
}

async fn listen(db: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(db).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Stored events with their audience, by id (`$1`, an array).
static LOAD_IDS: LazyLock<String> = LazyLock::new(|| load_where("e.id = ANY($1) ORDER BY e.id"));
/// Stored events with their audience after id `$1`, at most `$2`.
static LOAD_AFTER: LazyLock<String> = LazyLock::new(|| load_where("e.id > $1 ORDER BY e.id LIMIT $2"));

fn load_where(condition: &str) -> String {
    format!(
        "SELECT e.id, e.kind, e.idea_id, e.app_id, e.user_id, e.data, e.at, {AUDIENCE_COLUMNS} \
         FROM events e {AUDIENCE_JOINS} WHERE {condition}"
    )
}

#[derive(sqlx::FromRow)]
struct LoadedRow {
    #[sqlx(flatten)]
    event: StoredEvent,
    #[sqlx(flatten)]
    audience: AudienceRow,
}

impl From<LoadedRow> for LiveEvent {
    fn from(row: LoadedRow) -> Self {
        let e = &row.event;
        let audience = Audience::new(e.idea_id, e.app_id, e.user_id, row.audience);
        LiveEvent { event: row.event, audience }
    }
}

async fn relay(
    mut listener: PgListener,
    db: PgPool,
    local: broadcast::Sender<Arc<LiveEvent>>,
    mut last: i64,
) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                // Notifications that queued up while the connection was busy go in the same query.
                let mut ids: Vec<i64> = notification.payload().parse().into_iter().collect();
                while let Some(more) = listener.next_buffered() {
                    ids.extend(more.payload().parse::<i64>());
                }
                last = ids.iter().copied().fold(last, i64::max);
                if local.receiver_count() == 0 {
                    // Nobody is connected to this process right now: nothing to load.
                    continue;
                }
                let loaded = sqlx::query_as::<_, LoadedRow>(&LOAD_IDS).bind(&ids).fetch_all(&db).await;
                forward(&local, loaded);
            }
            Err(_) if db.is_closed() => return,
            lost => {
                // The connection was lost (PgListener says `Ok(None)`) or failed in a way it cannot revive.
                // Listening again before replaying, never after: PgListener would only re-LISTEN on the next
                // receive, and an event committed between a replay and that LISTEN would be neither replayed
                // nor announced. Listening first, such an event is both, and connections drop the repeat.
                if let Err(err) = lost {
                    tracing::warn!(error = %err, "event listener error; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                let Some(fresh) = listen_again(&db).await else { return };
                listener = fresh;
                replay(&db, &local, &mut last).await;
            }
        }
    }
}

/// A new listening connection, retried each second until it stands; `None` once the pool is closed.
async fn listen_again(db: &PgPool) -> Option<PgListener> {
    loop {
        match listen(db).await {
            Ok(listener) => return Some(listener),
            Err(_) if db.is_closed() => return None,
            Err(err) => tracing::warn!(error = %err, "event listener reconnect failed"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Relays the stored events after `last` that were announced while the relay was not listening.
async fn replay(db: &PgPool, local: &broadcast::Sender<Arc<LiveEvent>>, last: &mut i64) {
    loop {
        let loaded =
            sqlx::query_as::<_, LoadedRow>(&LOAD_AFTER).bind(*last).bind(REPLAY_PAGE).fetch_all(db).await;
        let more = match &loaded {
            Ok(rows) => {
                if let Some(row) = rows.last() {
                    *last = row.event.id;
                }
                rows.len() as i64 == REPLAY_PAGE
            }
            Err(_) => false,
        };
        forward(local, loaded);
        if !more {
            return;
        }
    }
}

fn forward(local: &broadcast::Sender<Arc<LiveEvent>>, loaded: sqlx::Result<Vec<LoadedRow>>) {
    match loaded {
        Ok(rows) => {
            for row in rows {
                // No receivers is fine: nobody is connected to this process right now.
                let _ = local.send(Arc::new(LiveEvent::from(row)));
            }
        }
        Err(err) => tracing::warn!(error = %err, "loading events"),
    }
}
