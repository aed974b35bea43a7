//! Per-request analytics of served apps (path, status, duration, CPU or fuel) and the page views the
//! Vibe Wrapper's beacon reports, written to Postgres in batches off the request path (`batch.rs`).
//! `GET /api/apps/{id}/metrics` reads them back. Each written batch of requests is then handed to the
//! [`RequestMeter`], if one is set (the credit ledger's, which charges app owners for hosting).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::batch::{Batcher, storable};

/// The longest path stored; longer ones are cut.
const MAX_PATH_BYTES: usize = 1024;
/// The longest referrer stored.
const MAX_REFERRER_BYTES: usize = 512;

/// One request an app served (or that the runtime answered for it).
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub app_id: Uuid,
    pub version_id: Option<Uuid>,
    pub request_id: String,
    pub method: String,
    /// The path the app saw, without the query (queries may carry tokens).
    pub path: String,
    pub status: u16,
    pub duration_us: u64,
    pub cpu_ms: Option<u64>,
    pub fuel: Option<u64>,
    /// The runtime's failure code when the app's own answer was not passed on.
    pub failure: Option<&'static str>,
    pub at: OffsetDateTime,
}

/// One page view reported by the wrapper's beacon.
#[derive(Debug, Clone)]
pub struct PageView {
    pub app_id: Uuid,
    pub path: String,
    pub referrer: String,
    /// How long the page took to load in the visitor's browser.
    pub load_ms: Option<i32>,
    pub at: OffsetDateTime,
}

/// Charges served requests to the apps' owners.
#[async_trait]
pub trait RequestMeter: Send + Sync {
    /// Charges `served` (requests per app) of one written batch; `batch` names the batch, so that a
    /// retried charge is applied once. Failures are the meter's to log: analytics never fail a request.
    async fn charge(&self, served: Vec<(Uuid, u64)>, batch: Uuid);
}

/// The meter, once set (the apps service starts before the ledger that meters it).
type MeterSlot = Arc<OnceLock<Arc<dyn RequestMeter>>>;

/// Queues analytics rows for batched insertion. Cheap to clone.
#[derive(Clone)]
pub struct Analytics {
    requests: Batcher<RequestRecord>,
    views: Batcher<PageView>,
    meter: MeterSlot,
}

impl Analytics {
    /// Starts the writers on `db`.
    pub fn start(db: PgPool) -> Self {
        let for_views = db.clone();
        let meter = MeterSlot::default();
        let for_requests = meter.clone();
        Analytics {
            requests: Batcher::start("app_requests", move |rows| {
                write_and_meter(db.clone(), for_requests.get().cloned(), rows)
            }),
            views: Batcher::start("app_page_views", move |rows| insert_views(for_views.clone(), rows)),
            meter,
        }
    }

    /// Sets the meter every later batch of requests goes to; a second meter is ignored.
    pub fn set_meter(&self, meter: Arc<dyn RequestMeter>) {
        if self.meter.set(meter).is_err() {
            tracing::warn!("a request meter was set twice; the first one stays");
        }
    }

    /// Records a served request (never waits).
    pub fn request(&self, record: RequestRecord) {
        self.requests.push(record);
    }

    /// Records a page view (never waits).
    pub fn page_view(&self, view: PageView) {
        self.views.push(view);
    }

    /// Writes everything queued so far.
    pub async fn flush(&self) {
        self.requests.flush().await;
        self.views.flush().await;
    }
}

/// How long analytics and log rows are kept (the longest metrics window).
pub const RETENTION_DAYS: i32 = 30;
/// How often old rows are deleted.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes analytics and log rows older than [`RETENTION_DAYS`], now and then every hour, for as
/// long as the pool is open. Every process may run it; the deletes are idempotent.
pub(super) async fn prune_forever(db: PgPool) {
    let mut ticker = tokio::time::interval(PRUNE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if db.is_closed() {
            return;
        }
        for table in ["app_requests", "app_page_views", "app_logs"] {
            let deleted =
                sqlx::query(&format!("DELETE FROM {table} WHERE at < now() - make_interval(days => $1)"))
                    .bind(RETENTION_DAYS)
                    .execute(&db)
                    .await;
            if let Err(error) = deleted {
                tracing::warn!(table, %error, "cannot delete old rows");
            }
        }
    }
}

/// Writes a batch of requests, then charges them: a batch is written once and charged once (a failed
/// write is dropped, uncharged).
async fn write_and_meter(
    db: PgPool,
    meter: Option<Arc<dyn RequestMeter>>,
    rows: Vec<RequestRecord>,
) -> anyhow::Result<()> {
    let Some(meter) = meter else { return insert_requests(db, rows).await };
    let mut served: HashMap<Uuid, u64> = HashMap::new();
    for row in &rows {
        *served.entry(row.app_id).or_default() += 1;
    }
    insert_requests(db, rows).await?;
    meter.charge(served.into_iter().collect(), Uuid::now_v7()).await;
    Ok(())
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

async fn insert_requests(db: PgPool, rows: Vec<RequestRecord>) -> anyhow::Result<()> {
    let mut columns = RequestColumns::default();
    for row in rows {
        columns.app_id.push(row.app_id);
        columns.version_id.push(row.version_id);
        columns.request_id.push(storable(&row.request_id, 128));
        columns.method.push(storable(&row.method, 16));
        columns.path.push(storable(&row.path, MAX_PATH_BYTES));
        columns.status.push(i16::try_from(row.status).unwrap_or(i16::MAX));
        columns.duration_us.push(to_i64(row.duration_us));
        columns.cpu_ms.push(row.cpu_ms.map(to_i64));
        columns.fuel.push(row.fuel.map(to_i64));
        columns.failure.push(row.failure.map(str::to_owned));
        columns.at.push(row.at);
    }
    // The join drops rows of apps deleted since they were queued, instead of failing the batch.
    sqlx::query(
        "INSERT INTO app_requests \
         (app_id, version_id, request_id, method, path, status, duration_us, cpu_ms, fuel, failure, at) \
         SELECT u.* FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int2[], \
                                $7::int8[], $8::int8[], $9::int8[], $10::text[], $11::timestamptz[]) \
              AS u(app_id, version_id, request_id, method, path, status, duration_us, cpu_ms, fuel, failure, at) \
         JOIN apps a ON a.id = u.app_id",
    )
    .bind(columns.app_id)
    .bind(columns.version_id)
    .bind(columns.request_id)
    .bind(columns.method)
    .bind(columns.path)
    .bind(columns.status)
    .bind(columns.duration_us)
    .bind(columns.cpu_ms)
    .bind(columns.fuel)
    .bind(columns.failure)
    .bind(columns.at)
    .execute(&db)
    .await?;
    Ok(())
}

#[derive(Default)]
struct RequestColumns {
    app_id: Vec<Uuid>,
    version_id: Vec<Option<Uuid>>,
    request_id: Vec<String>,
    method: Vec<String>,
    path: Vec<String>,
    status: Vec<i16>,
    duration_us: Vec<i64>,
    cpu_ms: Vec<Option<i64>>,
    fuel: Vec<Option<i64>>,
    failure: Vec<Option<String>>,
    at: Vec<OffsetDateTime>,
}

async fn insert_views(db: PgPool, rows: Vec<PageView>) -> anyhow::Result<()> {
    let mut app_id = Vec::with_capacity(rows.len());
    let mut path = Vec::with_capacity(rows.len());
    let mut referrer = Vec::with_capacity(rows.len());
    let mut load_ms = Vec::with_capacity(rows.len());
    let mut at = Vec::with_capacity(rows.len());
    for row in rows {
        app_id.push(row.app_id);
        path.push(storable(&row.path, MAX_PATH_BYTES));
        referrer.push(storable(&row.referrer, MAX_REFERRER_BYTES));
        load_ms.push(row.load_ms);
        at.push(row.at);
    }
    sqlx::query(
        "INSERT INTO app_page_views (app_id, path, referrer, load_ms, at) \
         SELECT u.* FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::timestamptz[]) \
              AS u(app_id, path, referrer, load_ms, at) \
         JOIN apps a ON a.id = u.app_id",
    )
    .bind(app_id)
    .bind(path)
    .bind(referrer)
    .bind(load_ms)
    .bind(at)
    .execute(&db)
    .await?;
    Ok(())
}
