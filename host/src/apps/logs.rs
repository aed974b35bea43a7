//! Each app's log in Postgres: what the runtime hands the [`LogSink`] (the app's `vibe:app/log`
//! messages, its stdout and stderr lines, traps and limit hits) and the platform's own lifecycle notes
//! (deployed, rolled back, paused), written in batches off the request path.
//! `GET /api/apps/{id}/logs` reads them back.

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;
use vibe_apps_runtime::{LogEntry, LogLevel, LogSink, LogSource};

use super::batch::{Batcher, storable};

/// The longest message stored (the runtime already cuts app messages at 8 KiB).
const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// One row of `app_logs`.
#[derive(Debug, Clone)]
struct LogRow {
    app_id: Uuid,
    request_id: String,
    source: &'static str,
    level: &'static str,
    message: String,
    at: OffsetDateTime,
}

/// The log sink every app's capabilities write to. Cheap to clone.
#[derive(Clone)]
pub struct PgLogSink {
    rows: Batcher<LogRow>,
}

impl PgLogSink {
    /// Starts the writer on `db`.
    pub fn start(db: PgPool) -> Self {
        PgLogSink { rows: Batcher::start("app_logs", move |rows| insert(db.clone(), rows)) }
    }

    /// Records a note of the platform's about `app_id` (a deploy, a rollback, a pause).
    pub fn platform(&self, app_id: Uuid, level: LogLevel, message: &str) {
        self.rows.push(LogRow {
            app_id,
            request_id: String::new(),
            source: "platform",
            level: level_name(level),
            message: storable(message, MAX_MESSAGE_BYTES),
            at: OffsetDateTime::now_utc(),
        });
    }

    /// Writes everything queued so far.
    pub async fn flush(&self) {
        self.rows.flush().await;
    }
}

impl LogSink for PgLogSink {
    fn record(&self, entry: LogEntry) {
        self.rows.push(LogRow {
            app_id: entry.app_id,
            request_id: storable(&entry.request_id, 128),
            source: source_name(entry.source),
            level: level_name(entry.level),
            message: storable(&entry.message, MAX_MESSAGE_BYTES),
            at: OffsetDateTime::from(entry.at),
        });
    }
}

fn source_name(source: LogSource) -> &'static str {
    match source {
        LogSource::App => "app",
        LogSource::Stdout => "stdout",
        LogSource::Stderr => "stderr",
        LogSource::Runtime => "runtime",
    }
}

fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

async fn insert(db: PgPool, rows: Vec<LogRow>) -> anyhow::Result<()> {
    let mut app_id = Vec::with_capacity(rows.len());
    let mut request_id = Vec::with_capacity(rows.len());
    let mut source = Vec::with_capacity(rows.len());
    let mut level = Vec::with_capacity(rows.len());
    let mut message = Vec::with_capacity(rows.len());
    let mut at = Vec::with_capacity(rows.len());
    for row in rows {
        app_id.push(row.app_id);
        request_id.push(row.request_id);
        source.push(row.source);
        level.push(row.level);
        message.push(row.message);
        at.push(row.at);
    }
    // WITH ORDINALITY keeps the rows' order, so ids follow the order entries were written in; the
    // join drops rows of apps deleted since they were queued.
    sqlx::query(
        "INSERT INTO app_logs (app_id, request_id, source, level, message, at) \
         SELECT u.app_id, u.request_id, u.source, u.level, u.message, u.at \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) \
              WITH ORDINALITY AS u(app_id, request_id, source, level, message, at, n) \
         JOIN apps a ON a.id = u.app_id ORDER BY u.n",
    )
    .bind(app_id)
    .bind(request_id)
    .bind(source)
    .bind(level)
    .bind(message)
    .bind(at)
    .execute(&db)
    .await?;
    Ok(())
}
