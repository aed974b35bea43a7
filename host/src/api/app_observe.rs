//! Watching a running app: its log (the app's messages, stdout and stderr, traps and limit hits,
//! lifecycle notes) and its metrics (requests, errors, latency percentiles, CPU and fuel, page views, and
//! requests and errors over time for charts).
//! Logs may hold what the app's users sent, so they are for owners and collaborators; metrics are for
//! anyone who may see the app.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::{Need, require_app};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Path, Query};
use crate::state::AppState;

/// The most log entries one call returns.
pub const MAX_LOG_LIMIT: i64 = 1_000;
/// The longest metrics window, in hours (30 days).
pub const MAX_WINDOW_HOURS: i32 = 24 * 30;
/// How many equal slices the metrics window is cut into for its time series: enough for a chart's shape,
/// few enough that any window costs one small query.
pub const SERIES_BUCKETS: i32 = 24;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(logs)).routes(routes!(metrics))
}

/// `GET /api/apps/{id}/logs` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// At most this many entries (1 to 1000, default 100).
    pub limit: Option<i64>,
    /// Only entries older than this id (the last id of the previous page).
    pub before: Option<i64>,
    /// Only entries from this source: `app`, `stdout`, `stderr`, `runtime` or `platform`.
    pub source: Option<String>,
    /// Only entries of this request.
    pub request_id: Option<String>,
}

/// One entry of an app's log.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LogLine {
    pub id: i64,
    /// The request it was written during (empty for lifecycle notes); also the response's `x-request-id`.
    pub request_id: String,
    /// `app`, `stdout`, `stderr`, `runtime` (traps, limit hits) or `platform` (deploys, rollbacks, pauses).
    pub source: String,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Reads an app's log, newest first.
#[utoipa::path(
    get, path = "/api/apps/{id}/logs", tag = "apps",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The app's id"), LogQuery),
    responses(
        (status = 200, description = "Log entries, newest first", body = Vec<LogLine>),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Viewers cannot read the log", body = ErrorBody),
        (status = 404, description = "No such app, or not visible to the caller", body = ErrorBody),
        (status = 422, description = "A parameter is out of range", body = ErrorBody),
    )
)]
async fn logs(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Query(query): Query<LogQuery>,
) -> ApiResult<Json<Vec<LogLine>>> {
    require_app(&state.db, id, user.id, Need::Write).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_LOG_LIMIT).contains(&limit) {
        return Err(ApiError::validation("limit", format!("between 1 and {MAX_LOG_LIMIT}")));
    }
    if let Some(source) = &query.source
        && !["app", "stdout", "stderr", "runtime", "platform"].contains(&source.as_str())
    {
        return Err(ApiError::validation("source", "one of app, stdout, stderr, runtime, platform"));
    }
    let lines = sqlx::query_as::<_, LogLine>(
        "SELECT id, request_id, source, level, message, at FROM app_logs \
         WHERE app_id = $1 AND ($2::int8 IS NULL OR id < $2) AND ($3::text IS NULL OR source = $3) \
           AND ($4::text IS NULL OR request_id = $4) \
         ORDER BY id DESC LIMIT $5",
    )
    .bind(id)
    .bind(query.before)
    .bind(query.source)
    .bind(query.request_id)
    .bind(limit)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(lines))
}

/// `GET /api/apps/{id}/metrics` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// The window, in hours back from now (1 to 720, default 24).
    pub hours: Option<i32>,
}

/// An app's traffic over a window.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AppMetrics {
    pub window_hours: i32,
    /// Requests answered (by the app, or by the runtime for it).
    pub requests: i64,
    /// Requests answered with a 5xx status (traps, limit hits, the app's own 5xx).
    pub errors: i64,
    /// Requests the runtime stopped at a limit (CPU, deadline, memory, body size, concurrency).
    pub limit_hits: i64,
    /// Median latency, in milliseconds; null without requests.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, in milliseconds; null without requests.
    pub p99_ms: Option<f64>,
    /// CPU time the app's code used, in milliseconds, summed.
    pub cpu_ms: i64,
    /// Fuel consumed, summed, when the server meters with fuel; null otherwise.
    pub fuel: Option<i64>,
    /// Page views reported by the Vibe Wrapper.
    pub page_views: i64,
    /// Requests and errors over the window, oldest first, in equal slices (empty slices included).
    #[sqlx(skip)]
    pub series: Vec<MetricsBucket>,
}

/// One slice of an app's metrics window.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MetricsBucket {
    /// Where the slice starts; it ends where the next one starts (the last one, now).
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    pub requests: i64,
    /// Requests answered with a 5xx status.
    pub errors: i64,
}

/// Summarises an app's requests over the last hours.
#[utoipa::path(
    get, path = "/api/apps/{id}/metrics", tag = "apps",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The app's id"), MetricsQuery),
    responses(
        (status = 200, description = "The app's metrics", body = AppMetrics),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such app, or not visible to the caller", body = ErrorBody),
        (status = 422, description = "The window is out of range", body = ErrorBody),
    )
)]
async fn metrics(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Query(query): Query<MetricsQuery>,
) -> ApiResult<Json<AppMetrics>> {
    require_app(&state.db, id, user.id, Need::Read).await?;
    let hours = query.hours.unwrap_or(24);
    if !(1..=MAX_WINDOW_HOURS).contains(&hours) {
        return Err(ApiError::validation("hours", format!("between 1 and {MAX_WINDOW_HOURS}")));
    }
    let mut metrics = sqlx::query_as::<_, AppMetrics>(
        "WITH r AS (SELECT * FROM app_requests WHERE app_id = $1 AND at > now() - make_interval(hours => $2)) \
         SELECT $2 AS window_hours, \
                (SELECT count(*) FROM r) AS requests, \
                (SELECT count(*) FROM r WHERE status >= 500) AS errors, \
                (SELECT count(*) FROM r WHERE failure IS NOT NULL AND failure NOT IN \
                    ('app_trapped', 'app_stack_overflow', 'app_no_response', 'app_error', 'bad_request', 'internal')) \
                    AS limit_hits, \
                (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_us) / 1000.0::float8 FROM r) AS p50_ms, \
                (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_us) / 1000.0::float8 FROM r) AS p99_ms, \
                (SELECT COALESCE(sum(cpu_ms), 0)::int8 FROM r) AS cpu_ms, \
                (SELECT sum(fuel)::int8 FROM r) AS fuel, \
                (SELECT count(*) FROM app_page_views \
                 WHERE app_id = $1 AND at > now() - make_interval(hours => $2)) AS page_views",
    )
    .bind(id)
    .bind(hours)
    .fetch_one(&state.db)
    .await?;
    // One row per slice, empty ones too, so a chart needs no gap filling; each slice is one range scan
    // of the (app_id, at) index.
    metrics.series = sqlx::query_as::<_, MetricsBucket>(
        "WITH w AS (SELECT now() - make_interval(hours => $2) AS start, \
                           make_interval(secs => $2 * 3600.0 / $3) AS width), \
              b AS (SELECT i, w.start + w.width * i AS from_at, \
                           CASE WHEN i = $3 - 1 THEN 'infinity'::timestamptz ELSE w.start + w.width * (i + 1) END \
                               AS to_at \
                    FROM w, generate_series(0, $3 - 1) AS i) \
         SELECT b.from_at AS from, count(r.id) AS requests, count(r.id) FILTER (WHERE r.status >= 500) AS errors \
         FROM b LEFT JOIN app_requests r ON r.app_id = $1 AND r.at > b.from_at AND r.at <= b.to_at \
         GROUP BY b.i, b.from_at ORDER BY b.i",
    )
    .bind(id)
    .bind(hours)
    .bind(SERIES_BUCKETS)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(metrics))
}
