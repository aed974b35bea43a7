//! Admission limits: request body size (413) and concurrent requests per app (503), and limits
//! that are refused at load.

use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;
use vibe_apps_runtime::{Capabilities, ComponentSource, Limits, LoadError};
use vibe_test_components::{HELLO_STD, LOOP};

use crate::support::{get, load, read, read_error, request, runtime, runtime_messages};

#[tokio::test]
async fn a_request_body_over_the_limit_is_refused_with_413() {
    let (runtime, _cache) = runtime();
    let (app, logs) =
        load(&runtime, HELLO_STD, Limits { max_request_body_bytes: 1024, ..Limits::default() }).await;

    // Declared too large: refused before reading.
    let mut declared = request(http::Method::POST, "/", Bytes::from(vec![b'x'; 2048]));
    declared.headers_mut().insert(http::header::CONTENT_LENGTH, "2048".parse().unwrap());
    let (status, code, request_id) = read_error(app.handle(declared).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (413, "payload_too_large"));
    assert!(runtime_messages(&logs, &request_id).iter().any(|m| m.contains("1024 bytes")));

    // Undeclared (no content-length): refused once the limit is crossed.
    let streamed = request(http::Method::POST, "/", Bytes::from(vec![b'x'; 1025]));
    let (status, code, _) = read_error(app.handle(streamed).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (413, "payload_too_large"));

    // At the limit: served.
    let fits = request(http::Method::POST, "/", Bytes::from(vec![b'x'; 1024]));
    assert_eq!(read(app.handle(fits).await).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_over_the_concurrency_limit_gets_503() {
    let (runtime, _cache) = runtime();
    let limits = Limits { max_concurrent_requests: 1, cpu_ms: 500, ..Limits::default() };
    let (app, _logs) = load(&runtime, LOOP, limits).await;

    let busy = app.clone();
    let first = tokio::spawn(async move { busy.handle(get("/")).await });
    while app.requests_in_flight() == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let response = app.handle(get("/")).await;
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, code, _) = read_error(response).await;
    assert_eq!((status.as_u16(), code.as_str()), (503, "app_busy"));

    let (status, code, _) = read_error(first.await.unwrap()).await;
    assert_eq!((status.as_u16(), code.as_str()), (504, "app_cpu_budget_exceeded"));
    // The slot is free again once the first request is done.
    assert_eq!(app.requests_in_flight(), 0);
}

#[tokio::test]
async fn limits_out_of_range_are_refused_at_load() {
    let (runtime, _cache) = runtime();
    for limits in [
        Limits { memory_bytes: 8 << 30, ..Limits::default() },
        Limits { max_concurrent_requests: 0, ..Limits::default() },
    ] {
        let error = runtime
            .load(
                Uuid::new_v4(),
                None,
                ComponentSource::File(HELLO_STD.into()),
                limits,
                Capabilities::isolated(),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, LoadError::InvalidConfig(_)), "{error}");
    }

    let hosting_config = serde_json::json!({"limits": {"cpu_ms": 5, "max_concurrent_requests": 2}});
    let limits = Limits::from_hosting_config(&hosting_config).unwrap();
    let (app, _logs) = load(&runtime, HELLO_STD, limits).await;
    assert_eq!(app.limits().cpu_ms, 5);
}
