//! Serving: a standard wasi:http component answers, each request in a fresh instance, with its
//! stdout and stderr captured into the app's log.

use vibe_apps_runtime::{Limits, LogLevel, LogSource, RequestStats};
use vibe_test_components::{CHATTY, HELLO_STD, STATE};

use crate::support::{get, load, read, runtime};

#[tokio::test]
async fn standard_wasi_http_component_serves_200_with_its_body() {
    let (runtime, _cache) = runtime();
    let (app, _logs) = load(&runtime, HELLO_STD, Limits::default()).await;

    let response = app.handle(get("/greet?x=1")).await;
    let request_id = response.headers().get("x-request-id").cloned().expect("a request id");
    let stats = response.extensions().get::<RequestStats>().cloned().expect("request stats");
    let (status, body) = read(response).await;

    assert_eq!(status, 200);
    assert_eq!(body, "hello from /greet\n");
    assert_eq!(stats.request_id, request_id.to_str().unwrap());
    assert_eq!(stats.failure, None);
    assert!(stats.cpu_ms.is_some());
}

#[tokio::test]
async fn the_clients_request_id_is_kept_when_it_is_a_token() {
    let (runtime, _cache) = runtime();
    let (app, _logs) = load(&runtime, HELLO_STD, Limits::default()).await;

    let mut request = get("/");
    request.headers_mut().insert("x-request-id", "abc-123".parse().unwrap());
    let response = app.handle(request).await;
    assert_eq!(response.headers()["x-request-id"], "abc-123");

    let mut request = get("/");
    request.headers_mut().insert("x-request-id", "not a token!".parse().unwrap());
    let response = app.handle(request).await;
    assert_ne!(response.headers()["x-request-id"], "not a token!");
}

#[tokio::test]
async fn every_request_gets_a_fresh_instance() {
    let (runtime, _cache) = runtime();
    let (app, _logs) = load(&runtime, STATE, Limits::default()).await;

    for _ in 0..3 {
        let (status, body) = read(app.handle(get("/")).await).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "1"), "the global counter starts over");
    }
}

#[tokio::test]
async fn stdout_and_stderr_lines_go_to_the_apps_log() {
    let (runtime, _cache) = runtime();
    let (app, logs) = load(&runtime, CHATTY, Limits::default()).await;

    let response = app.handle(get("/")).await;
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(read(response).await.1, "said it");

    let lines: Vec<_> = logs
        .entries()
        .into_iter()
        .filter(|entry| entry.request_id == request_id)
        .map(|entry| (entry.source, entry.level, entry.message))
        .collect();
    assert!(
        lines.contains(&(LogSource::Stdout, LogLevel::Info, "first line on stdout".to_owned())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&(LogSource::Stdout, LogLevel::Info, "second line on stdout".to_owned())),
        "{lines:?}"
    );
    assert!(lines.contains(&(LogSource::Stderr, LogLevel::Warn, "a line on stderr".to_owned())), "{lines:?}");
}

#[tokio::test]
async fn a_flood_of_output_is_capped_per_request() {
    let (runtime, _cache) = runtime();
    let limits = Limits { max_log_bytes_per_request: 4096, ..Limits::default() };
    let (app, logs) = load(&runtime, CHATTY, limits).await;

    let response = app.handle(get("/flood")).await;
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(read(response).await.0, 200, "the app still answers");

    let entries: Vec<_> = logs.entries().into_iter().filter(|entry| entry.request_id == request_id).collect();
    let app_bytes: usize = entries
        .iter()
        .filter(|entry| entry.source != LogSource::Runtime)
        .map(|entry| entry.message.len())
        .sum();
    assert!(app_bytes <= 4096, "{app_bytes} bytes of output kept");
    let notes: Vec<_> = entries.iter().filter(|entry| entry.source == LogSource::Runtime).collect();
    assert_eq!(notes.len(), 1, "one note that output was dropped: {notes:?}");
    assert!(notes[0].message.contains("exceeded its limit"));
}
