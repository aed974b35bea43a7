//! Track records: every agent call leaves a row (version, latency, fuel, credits, outcome) in
//! `agent_calls`, and each version's record is summed up from them on demand, so that versions of an
//! agent type can be compared side by side (which is what routing experiments are judged by).
//!
//! Rows are written by one task per process in batches, off the call path. Unlike analytics they are
//! never dropped: when the queue is full the caller waits, because a track record with holes would
//! compare versions unfairly.

use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::error::ApiError;

/// Rows waiting at most before callers wait.
const CAPACITY: usize = 10_000;
/// Rows per statement at most.
const MAX_BATCH: usize = 500;
/// How long a row waits at most before it is written.
const INTERVAL: Duration = Duration::from_millis(100);

/// One call, as recorded.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub agent_type: String,
    pub agent_version: String,
    pub session_id: Option<Uuid>,
    /// `None` for a call that succeeded; otherwise the error's code.
    pub error: Option<String>,
    pub latency_us: u64,
    pub fuel: u64,
    pub credits: u64,
    pub at: OffsetDateTime,
}

enum Message {
    Row(CallRecord),
    Flush(oneshot::Sender<()>),
}

/// The sending side of this process's recorder. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    sender: mpsc::Sender<Message>,
}

impl Recorder {
    /// Starts the writer task on `db`.
    pub fn start(db: PgPool) -> Self {
        let (sender, receiver) = mpsc::channel(CAPACITY);
        tokio::spawn(write_batches(db, receiver));
        Recorder { sender }
    }

    /// Queues `record` (waiting only when the queue is full).
    pub async fn record(&self, record: CallRecord) {
        if self.sender.send(Message::Row(record)).await.is_err() {
            tracing::error!("the track recorder stopped; a call record is lost");
        }
    }

    /// Returns once every record queued before the call is written.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn write_batches(db: PgPool, mut receiver: mpsc::Receiver<Message>) {
    let mut batch = Vec::new();
    let mut waiting = Vec::new();
    loop {
        let message = if batch.is_empty() {
            receiver.recv().await
        } else {
            match tokio::time::timeout(INTERVAL, receiver.recv()).await {
                Ok(message) => message,
                Err(_) => {
                    write(&db, &mut batch).await;
                    continue;
                }
            }
        };
        match message {
            Some(Message::Row(record)) => {
                batch.push(record);
                if batch.len() >= MAX_BATCH {
                    write(&db, &mut batch).await;
                }
            }
            Some(Message::Flush(done)) => {
                waiting.push(done);
                // Whatever queued behind the flush request goes along in the same write.
                while let Ok(message) = receiver.try_recv() {
                    match message {
                        Message::Row(record) => batch.push(record),
                        Message::Flush(done) => waiting.push(done),
                    }
                }
                while !batch.is_empty() {
                    write(&db, &mut batch).await;
                }
                for done in waiting.drain(..) {
                    let _ = done.send(());
                }
            }
            None => {
                write(&db, &mut batch).await;
                return;
            }
        }
    }
}

/// Writes up to [`MAX_BATCH`] rows of `batch` in one statement, retrying a failed write a few times.
async fn write(db: &PgPool, batch: &mut Vec<CallRecord>) {
    let rows: Vec<CallRecord> = batch.drain(..batch.len().min(MAX_BATCH)).collect();
    if rows.is_empty() {
        return;
    }
    for attempt in 1..=3 {
        match insert(db, &rows).await {
            Ok(()) => return,
            Err(error) if db.is_closed() => {
                tracing::error!(rows = rows.len(), error = %error, "database closed; call records lost");
                return;
            }
            Err(error) => {
                tracing::warn!(attempt, rows = rows.len(), error = %error, "writing call records");
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
        }
    }
    tracing::error!(rows = rows.len(), "call records could not be written");
}

async fn insert(db: &PgPool, rows: &[CallRecord]) -> sqlx::Result<()> {
    let clamp = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO agent_calls (agent_type, agent_version, session_id, outcome, error_kind, latency_us, fuel, credits, at) \
         SELECT t, v, s, CASE WHEN e IS NULL THEN 'ok' ELSE 'error' END, e, l, f, c, a \
         FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::int8[], $6::int8[], $7::int8[], $8::timestamptz[]) \
              AS r(t, v, s, e, l, f, c, a)",
    )
    .bind(rows.iter().map(|r| r.agent_type.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.agent_version.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.session_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.error.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| clamp(r.latency_us)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| clamp(r.fuel)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| clamp(r.credits)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>())
    .execute(db)
    .await?;
    Ok(())
}

/// One version's record, summed up from its calls.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TrackRecord {
    /// `<plugin>@<semver>`.
    pub version: String,
    pub calls: i64,
    pub ok: i64,
    pub errors: i64,
    /// Errors per call, 0 to 1 (0 without calls).
    pub error_rate: f64,
    /// Median and 99th percentile latency, in microseconds.
    pub latency_p50_us: Option<f64>,
    pub latency_p99_us: Option<f64>,
    /// Mean fuel per call.
    pub fuel_mean: Option<f64>,
    /// Credits billed over all calls.
    pub credits_total: i64,
    /// Calls per error code, e.g. `{"agent_fuel_exhausted": 3}`.
    pub errors_by_kind: serde_json::Value,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_call_at: Option<OffsetDateTime>,
}

/// The record of every version of `agent_type` that has been called, by version.
pub async fn records(db: &PgPool, agent_type: &str) -> Result<Vec<TrackRecord>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT agent_version AS version, count(*) AS calls, \
                count(*) FILTER (WHERE outcome = 'ok') AS ok, \
                count(*) FILTER (WHERE outcome = 'error') AS errors, \
                (count(*) FILTER (WHERE outcome = 'error'))::float8 / count(*) AS error_rate, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_us) AS latency_p50_us, \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_us) AS latency_p99_us, \
                avg(fuel)::float8 AS fuel_mean, \
                COALESCE(sum(credits), 0)::int8 AS credits_total, \
                COALESCE((SELECT jsonb_object_agg(k, n) FROM (SELECT error_kind AS k, count(*) AS n FROM agent_calls i \
                    WHERE i.agent_type = c.agent_type AND i.agent_version = c.agent_version AND i.error_kind IS NOT NULL \
                    GROUP BY error_kind) kinds), '{}') AS errors_by_kind, \
                max(at) AS last_call_at \
         FROM agent_calls c WHERE agent_type = $1 GROUP BY agent_type, agent_version ORDER BY agent_version",
    )
    .bind(agent_type)
    .fetch_all(db)
    .await?)
}

/// A recorded call, as listed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CallRow {
    pub id: i64,
    pub version: String,
    pub session_id: Option<Uuid>,
    /// `ok` or `error`.
    pub outcome: String,
    pub error_kind: Option<String>,
    pub latency_us: i64,
    pub fuel: i64,
    pub credits: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The latest `limit` calls of `agent_type`, newest first.
pub async fn recent_calls(db: &PgPool, agent_type: &str, limit: i64) -> Result<Vec<CallRow>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT id, agent_version AS version, session_id, outcome, error_kind, latency_us, fuel, credits, at \
         FROM agent_calls WHERE agent_type = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(agent_type)
    .bind(limit)
    .fetch_all(db)
    .await?)
}
