//! Reservations: held credits reduce what is available, settle charges at most the hold, release
//! charges nothing, an expired hold stops counting and the sweep releases it.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::ledger::{LedgerError, Reference, ReferenceKind, ReserveRequest};

use super::balance;
use crate::support::TestServer;

fn hold(user: Uuid, amount: i64, key: &str) -> ReserveRequest {
    ReserveRequest {
        user_id: user,
        amount,
        reason: "LLM call".to_owned(),
        reference: Some(Reference::new(ReferenceKind::AgentSession, "session-1")),
        idempotency_key: key.to_owned(),
        ttl: None,
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn reserve_settle_and_release(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let ledger = &server.state.ledger;

    let first = ledger.reserve(&hold(ada.id, 60, "call-1")).await.unwrap();
    assert!(!first.replayed);
    let again = ledger.reserve(&hold(ada.id, 60, "call-1")).await.unwrap();
    assert_eq!((again.id, again.replayed), (first.id, true));
    assert!(matches!(ledger.reserve(&hold(ada.id, 61, "call-1")).await, Err(LedgerError::KeyReused(_))));

    let credits: Value = ada.get("/api/credits").await.json().await.unwrap();
    assert_eq!(
        (credits["balance"].as_i64(), credits["held"].as_i64(), credits["available"].as_i64()),
        (Some(100), Some(60), Some(40))
    );
    let short = ledger.reserve(&hold(ada.id, 41, "call-2")).await.unwrap_err();
    assert!(matches!(short, LedgerError::Insufficient { available: 40, needed: 41 }), "{short:?}");

    // Settling charges the actual cost, capped at the hold, and frees the rest.
    let settled = ledger.settle(first.id, 75).await.unwrap();
    assert_eq!((settled.charged, settled.released), (60, 0));
    let second = ledger.reserve(&hold(ada.id, 30, "call-3")).await.unwrap();
    let settled_again = ledger.settle(second.id, 12).await.unwrap();
    assert_eq!((settled_again.charged, settled_again.released), (12, 18));
    assert_eq!(ledger.settle(second.id, 12).await.unwrap(), settled_again, "settling twice charges once");
    assert!(matches!(ledger.settle(second.id, 13).await, Err(LedgerError::KeyReused(_))));
    assert_eq!(balance(&db, ada.id).await, 28);

    // Released: nothing charged, and it cannot be settled afterwards.
    let third = ledger.reserve(&hold(ada.id, 20, "call-4")).await.unwrap();
    assert!(ledger.release(third.id).await.unwrap());
    assert!(!ledger.release(third.id).await.unwrap(), "releasing twice is harmless");
    assert!(matches!(ledger.settle(third.id, 5).await, Err(LedgerError::ReservationReleased)));
    assert!(matches!(ledger.release(Uuid::now_v7()).await, Err(LedgerError::UnknownReservation)));
    assert_eq!(balance(&db, ada.id).await, 28);

    // The usage shows under the session, the entries reference it.
    let credits: Value = ada.get("/api/credits").await.json().await.unwrap();
    assert_eq!(credits["held"], 0);
    assert_eq!(credits["usage"]["sessions"][0]["id"], "session-1");
    assert_eq!(credits["usage"]["sessions"][0]["credits"], 72);
    assert_eq!(credits["usage"]["sessions"][0]["entries"], 2);
    assert_eq!(credits["ledger"][0]["reference_type"], "agent_session");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_expired_hold_stops_counting_and_the_sweep_releases_it(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let ledger = &server.state.ledger;
    let request = ReserveRequest { ttl: Some(Duration::from_millis(300)), ..hold(ada.id, 90, "call-1") };
    let reservation = ledger.reserve(&request).await.unwrap();
    assert!(matches!(
        ledger.reserve(&hold(ada.id, 20, "call-2")).await,
        Err(LedgerError::Insufficient { .. })
    ));
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Expired: it no longer holds credits, before any sweep.
    let other = ledger.reserve(&hold(ada.id, 20, "call-3")).await.unwrap();
    assert_eq!(ledger.sweep().await.unwrap(), 1);
    let status: String = sqlx::query_scalar("SELECT status FROM credit_reservations WHERE id = $1")
        .bind(reservation.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(status, "released");
    assert!(matches!(ledger.settle(reservation.id, 10).await, Err(LedgerError::ReservationReleased)));
    assert_eq!(ledger.sweep().await.unwrap(), 0, "the live hold stays");
    ledger.release(other.id).await.unwrap();
    assert_eq!(balance(&db, ada.id).await, 100, "nothing was charged");
}
