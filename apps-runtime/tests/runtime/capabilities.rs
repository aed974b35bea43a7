//! The vibe:app imports, through a component whose bindings come from our WIT: each app's
//! key-value store is its own and outlives requests, config and log reach the app's backends, and
//! an app without a database is told so.

use std::sync::Arc;

use vibe_apps_runtime::{Capabilities, Limits, LogLevel, LogSource, MemoryKv, MemoryLogSink, StaticConfig};
use vibe_test_components::CAPABILITIES;

use crate::support::{get, load_with, read, runtime};

fn capabilities(logs: Arc<MemoryLogSink>) -> Capabilities {
    let config = StaticConfig::new([
        ("greeting".to_owned(), "hi there".to_owned()),
        ("api_key".to_owned(), "s3cret".to_owned()),
    ]);
    Capabilities {
        kv: Arc::new(MemoryKv::default()),
        config: Arc::new(config),
        logs,
        ..Capabilities::isolated()
    }
}

#[tokio::test]
async fn kv_config_log_and_db_reach_the_apps_own_backends() {
    let (runtime, _cache) = runtime();
    let logs = Arc::new(MemoryLogSink::new(100));
    let app = load_with(&runtime, CAPABILITIES, Limits::default(), capabilities(logs.clone())).await;

    let (status, first) = read(app.handle(get("/")).await).await;
    assert_eq!(status, 200, "{first}");
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(
        lines,
        [
            "visits: 1",
            "visit keys: visit/1",
            "huge value: too large",
            "greeting: hi there",
            "missing: unset",
            "config names: api_key,greeting",
            "db unavailable: this app has no database",
        ]
    );

    // The key-value store outlives the request (unlike the instance's memory).
    let (_, second) = read(app.handle(get("/")).await).await;
    assert!(second.starts_with("visits: 2\nvisit keys: visit/1,visit/2\n"), "{second}");

    let app_logs: Vec<_> =
        logs.entries().into_iter().filter(|entry| entry.source == LogSource::App).collect();
    assert_eq!(app_logs.len(), 2);
    assert_eq!(app_logs[0].level, LogLevel::Info);
    assert_eq!(app_logs[0].message, "capabilities served a request");
}

#[tokio::test]
async fn each_app_has_its_own_key_value_store() {
    let (runtime, _cache) = runtime();
    let first =
        load_with(&runtime, CAPABILITIES, Limits::default(), capabilities(Arc::new(MemoryLogSink::new(10))))
            .await;
    let second =
        load_with(&runtime, CAPABILITIES, Limits::default(), capabilities(Arc::new(MemoryLogSink::new(10))))
            .await;

    for _ in 0..3 {
        read(first.handle(get("/")).await).await;
    }
    let (_, body) = read(second.handle(get("/")).await).await;
    assert!(
        body.starts_with("visits: 1\nvisit keys: visit/1\n"),
        "the other app's visits are not seen: {body}"
    );
}
