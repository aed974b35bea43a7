//! Outbound HTTP: refused before any connection unless the host is allow-listed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vibe_apps_runtime::{Capabilities, Limits, MemoryLogSink, OutboundPolicy};
use vibe_test_components::OUTBOUND;

use crate::support::{get, load_with, read, runtime};

/// A local HTTP server answering `pong` to anything, counting the connections it accepts.
async fn upstream() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong")
                    .await;
            });
        }
    });
    (port, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_not_on_the_allow_list_is_refused_and_receives_nothing() {
    let (port, accepted) = upstream().await;
    let (runtime, _cache) = runtime();
    let logs = Arc::new(MemoryLogSink::new(100));
    let capabilities = Capabilities {
        logs: logs.clone(),
        outbound: OutboundPolicy::allow(["api.example.com"]).unwrap(),
        ..Capabilities::isolated()
    };
    let app = load_with(&runtime, OUTBOUND, Limits::default(), capabilities).await;

    let (status, body) = read(app.handle(get(&format!("/?to=127.0.0.1:{port}"))).await).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (502, "ErrorCode::HttpRequestDenied"),
        "the app sees the refusal"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "the local server received nothing");
    let refused =
        logs.entries().into_iter().any(|e| e.message.contains(&format!("127.0.0.1:{port} refused")));
    assert!(refused, "the refusal is in the app's log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_listed_host_is_reached() {
    let (port, accepted) = upstream().await;
    let (runtime, _cache) = runtime();
    let hosting_config = serde_json::json!({"outbound_hosts": [format!("127.0.0.1:{port}")]});
    let capabilities = Capabilities {
        outbound: OutboundPolicy::from_hosting_config(&hosting_config).unwrap(),
        ..Capabilities::isolated()
    };
    let app = load_with(&runtime, OUTBOUND, Limits::default(), capabilities).await;

    let (status, body) = read(app.handle(get(&format!("/?to=127.0.0.1:{port}"))).await).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "upstream 200 pong"));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
