//! Logs, request ids and request metrics.
//!
//! Every request gets an id (the client's `x-request-id` when it is a short, printable token, a fresh UUID
//! otherwise); it is returned in the `x-request-id` header, recorded on the request's span so every log line
//! of the request carries it, and put in every error body.
//!
//! The access log line is written at `info` for the platform's own requests and at `debug` for requests
//! served by an app (those carrying the runtime's [`RequestStats`]): the app's analytics already record
//! each of those in PostgreSQL, and formatting and writing a line per app request cost ≈ 4% of the
//! serving throughput (BENCHMARKS.md). An app's failures (5xx) are still logged at `info`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;
use vibe_apps_runtime::RequestStats;

use crate::config::LogFormat;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Initialise logging once; `RUST_LOG` overrides the default filter.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let result = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // A second init (tests starting several servers in one process) keeps the first subscriber.
    let _ = result;
}

fn usable_request_id(value: Option<&HeaderValue>) -> Option<String> {
    let value = value?.to_str().ok()?;
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| value.to_owned())
}

/// Middleware: request id, span, access log line and request metrics.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = usable_request_id(request.headers().get("x-request-id"))
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = request.method().clone();
    // Label metrics by route template, never by raw path: ids in paths would explode the series.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("request", request_id = %id, %method, path = %request.uri().path());

    let mut response = REQUEST_ID.scope(id.clone(), next.run(request).instrument(span.clone())).await;

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let elapsed_ms = elapsed.as_secs_f64() * 1e3;
    let served_by_app = response.extensions().get::<RequestStats>().is_some();
    if served_by_app && status < 500 {
        span.in_scope(|| tracing::debug!(status, elapsed_ms, "request"));
    } else {
        span.in_scope(|| tracing::info!(status, elapsed_ms, "request"));
    }
    let labels = [("method", method.to_string()), ("route", route), ("status", status.to_string())];
    metrics::counter!("vibe_http_requests_total", &labels).increment(1);
    metrics::histogram!("vibe_http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
