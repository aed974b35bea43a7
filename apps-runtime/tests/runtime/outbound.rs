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

/// An upstream on every address `localhost` resolves to, sharing one port and one counter.
async fn localhost_upstream() -> (u16, Arc<AtomicUsize>, Vec<std::net::IpAddr>) {
    let addresses: Vec<std::net::IpAddr> =
        tokio::net::lookup_host(("localhost", 0)).await.unwrap().map(|address| address.ip()).collect();
    let first = TcpListener::bind((addresses[0], 0)).await.unwrap();
    let port = first.local_addr().unwrap().port();
    let mut listeners = vec![first];
    for address in &addresses[1..] {
        listeners.push(TcpListener::bind((*address, port)).await.unwrap());
    }
    let accepted = Arc::new(AtomicUsize::new(0));
    for listener in listeners {
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    let read = socket.read(&mut buffer).await.unwrap_or(0);
                    let host = String::from_utf8_lossy(&buffer[..read])
                        .lines()
                        .find_map(|line| line.strip_prefix("host: ").map(str::to_owned))
                        .unwrap_or_default();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{host}",
                        host.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
    }
    (port, accepted, addresses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_name_leading_to_an_internal_address_is_refused_unless_that_ip_is_listed() {
    let (port, accepted, addresses) = localhost_upstream().await;
    let (runtime, _cache) = runtime();
    let logs = Arc::new(MemoryLogSink::new(100));
    let capabilities = Capabilities {
        logs: logs.clone(),
        outbound: OutboundPolicy::allow([format!("localhost:{port}")]).unwrap(),
        ..Capabilities::isolated()
    };
    let app = load_with(&runtime, OUTBOUND, Limits::default(), capabilities).await;
    let (status, body) = read(app.handle(get(&format!("/?to=localhost:{port}"))).await).await;
    assert_eq!((status.as_u16(), body.as_str()), (502, "ErrorCode::HttpRequestDenied"));
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "nothing reached the loopback server");
    let refusal = logs.entries().into_iter().map(|e| e.message).find(|m| m.contains("internal address"));
    let refusal = refusal.expect("the refusal is in the app's log");
    assert!(refusal.contains(&format!("localhost:{port} refused: localhost resolves to")), "{refusal}");

    // A private IP literal given directly is refused the same way when only a name is listed.
    let (status, _) = read(app.handle(get(&format!("/?to=127.0.0.1:{port}"))).await).await;
    assert_eq!(status.as_u16(), 502);

    // Listing the IP literals too lets the name through, to the address that was checked.
    let mut allowed = vec![format!("localhost:{port}")];
    allowed.extend(addresses.iter().map(|address| match address {
        std::net::IpAddr::V4(v4) => format!("{v4}:{port}"),
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }));
    let capabilities =
        Capabilities { outbound: OutboundPolicy::allow(allowed).unwrap(), ..Capabilities::isolated() };
    let app = load_with(&runtime, OUTBOUND, Limits::default(), capabilities).await;
    let (status, body) = read(app.handle(get(&format!("/?to=localhost:{port}"))).await).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (200, format!("upstream 200 localhost:{port}").as_str()),
        "the upstream sees the name in Host"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
