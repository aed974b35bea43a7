//! The event bus: publish through Postgres, receive every process's events locally.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use time::OffsetDateTime;
use tokio::sync::broadcast;
use uuid::Uuid;

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

/// Publishes events and hands this process's subscribers every event of the cluster.
#[derive(Clone)]
pub struct EventBus {
    db: PgPool,
    local: broadcast::Sender<Arc<StoredEvent>>,
}

impl EventBus {
    /// Connects the listener and starts relaying notifications to local subscribers.
    pub async fn start(db: PgPool) -> anyhow::Result<Self> {
        let (local, _) = broadcast::channel(1024);
        let mut listener = PgListener::connect_with(&db).await?;
        listener.listen(CHANNEL).await?;
        let bus = EventBus { db: db.clone(), local: local.clone() };
        tokio::spawn(relay(listener, db, local));
        Ok(bus)
    }

    /// Stores `event` and announces it to every process.
    pub async fn publish(&self, event: Event) -> anyhow::Result<i64> {
        let (id,): (i64,) = sqlx::query_as(
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
        .fetch_one(&self.db)
        .await?;
        Ok(id)
    }

    /// Every event published anywhere in the cluster from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.local.subscribe()
    }
}

async fn relay(mut listener: PgListener, db: PgPool, local: broadcast::Sender<Arc<StoredEvent>>) {
    loop {
        // PgListener reconnects by itself; a notification lost while it was away is caught up by clients
        // from the events table, which is why every event carries its id.
        let notification = match listener.recv().await {
            Ok(n) => n,
            Err(err) => {
                tracing::warn!(error = %err, "event listener error; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let Ok(id) = notification.payload().parse::<i64>() else { continue };
        let stored = sqlx::query_as::<_, StoredEvent>(
            "SELECT id, kind, idea_id, app_id, user_id, data, at FROM events WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&db)
        .await;
        match stored {
            Ok(Some(event)) => {
                // No receivers is fine: nobody is connected to this process right now.
                let _ = local.send(Arc::new(event));
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, id, "loading event"),
        }
    }
}
