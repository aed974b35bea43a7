//! The WASI sandbox: an ordinary Rust component looking around with std finds no environment, no
//! arguments, no filesystem and no network.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpListener;
use vibe_apps_runtime::Limits;
use vibe_test_components::PROBE;

use crate::support::{get, load, read, runtime};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_sees_no_environment_files_or_network() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    // The host process has an environment, arguments and a filesystem; the app must see none.
    assert!(std::env::vars().count() > 0);
    let (runtime, _cache) = runtime();
    let (app, _logs) = load(&runtime, PROBE, Limits::default()).await;

    let (status, body) = read(app.handle(get(&format!("/?to=127.0.0.1:{port}"))).await).await;
    assert_eq!(status, 200, "{body}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "env: 0", "{body}");
    assert_eq!(lines[1], "args: 0", "{body}");
    for (line, probe) in
        lines[2..].iter().zip(["read dir /", "read dir .", "open /etc/passwd", "create file", "tcp"])
    {
        assert!(line.starts_with(probe) && line.contains("refused"), "{probe}: {line}");
    }
    assert_eq!(lines.len(), 7, "{body}");
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "the local server received no connection");
}
