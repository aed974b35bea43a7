//! A worker that reserved credits and died before settling: the reservation is released when `vibe
//! serve` starts. The crashed worker is simulated (a reservation made with a short lifetime and never
//! settled, its owning ledger dropped); the restart is a real `vibe serve` process, whose startup sweep
//! must release it before it answers.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sqlx::PgPool;
use vibe_host::ledger::{Reference, ReferenceKind, ReserveRequest};

use crate::support::TestServer;

fn database_url(db: &PgPool) -> String {
    let mut url = url::Url::parse(
        &std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    )
    .unwrap();
    url.set_path(db.connect_options().get_database().unwrap());
    url.to_string()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_reservation_left_by_a_crash_is_released_at_restart(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let reservation = server
        .state
        .ledger
        .reserve(&ReserveRequest {
            user_id: ada.id,
            amount: 80,
            reason: "build".to_owned(),
            reference: Some(Reference::new(ReferenceKind::Build, "b-1")),
            idempotency_key: "build:b-1".to_owned(),
            ttl: Some(Duration::from_secs(1)),
        })
        .await
        .unwrap();
    // The worker "crashes": nothing settles or releases the hold.
    drop(server);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let held: String = sqlx::query_scalar("SELECT status FROM credit_reservations WHERE id = $1")
        .bind(reservation.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(held, "held", "nothing released it yet");

    let dir = tempfile::tempdir().unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let log = std::fs::File::create(dir.path().join("vibe.log")).unwrap();
    let log_too = log.try_clone().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vibe"))
        .arg("serve")
        .env("VIBE_DATABASE_URL", database_url(&db))
        .env("VIBE_LISTEN", addr.to_string())
        .env("VIBE_DATA_DIR", dir.path())
        // A long sweep period: only the startup sweep can release it within this test.
        .env("VIBE_CREDITS_SWEEP_SECS", "3600")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_too)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!("vibe exited: {status}"));
        }
        let url = format!("http://{addr}/readyz");
        if http.get(url).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
            break Ok(());
        }
        if Instant::now() > deadline {
            break Err("not ready".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let status: String = sqlx::query_scalar("SELECT status FROM credit_reservations WHERE id = $1")
        .bind(reservation.id)
        .fetch_one(&db)
        .await
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.path().join("vibe.log")).unwrap_or_default();
    assert_eq!(ready, Ok(()), "{log}");
    assert_eq!(status, "released", "{log}");
    assert!(log.contains("released credit reservations"), "{log}");
    let balance: i64 = sqlx::query_scalar("SELECT credits_balance FROM users WHERE id = $1")
        .bind(ada.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(balance, 100);
}
