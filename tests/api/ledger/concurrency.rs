//! The invariants under concurrency: 100 spends against a balance that covers one, 50 copies of one
//! idempotent write, and a key reused for another request.

use futures::future::join_all;
use sqlx::PgPool;
use vibe_host::ledger::{EntryKind, LedgerError, NewEntry, Reference, ReferenceKind};

use super::{balance, set_balance};
use crate::support::TestServer;

fn spend(user: uuid::Uuid, amount: i64, key: &str) -> NewEntry {
    NewEntry {
        user_id: user,
        kind: EntryKind::Usage,
        amount: -amount,
        reason: "agent call".to_owned(),
        reference: Some(Reference::new(ReferenceKind::AgentSession, "s1")),
        idempotency_key: key.to_owned(),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_hundred_concurrent_spends_against_a_balance_for_one(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    set_balance(&db, ada.id, 30).await;
    let ledger = server.state.ledger.clone();
    let spends = (0..100).map(|i| {
        let ledger = ledger.clone();
        let entry = spend(ada.id, 25, &format!("spend-{i}"));
        tokio::spawn(async move { ledger.post(&entry).await })
    });
    let results: Vec<_> = join_all(spends).await.into_iter().map(|joined| joined.unwrap()).collect();
    let succeeded = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(succeeded, 1, "exactly one spend fits the balance");
    for result in &results {
        if let Err(error) = result {
            assert!(matches!(error, LedgerError::Insufficient { available: 5, needed: 25 }), "{error:?}");
        }
    }
    assert_eq!(balance(&db, ada.id).await, 5);
    let (usage_rows, negative): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE kind = 'usage'), count(*) FILTER (WHERE balance_after < 0) \
         FROM credit_ledger WHERE user_id = $1",
    )
    .bind(ada.id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((usage_rows, negative), (1, 0));

    // The refusals told the user once (not 99 times), as a notification.
    let told: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE kind = 'notification' AND user_id = $1 AND data->>'kind' = 'insufficient_credits'",
    )
    .bind(ada.id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(told, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn one_key_sent_fifty_times_concurrently_has_one_effect(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let ledger = server.state.ledger.clone();
    let attempts = (0..50).map(|_| {
        let ledger = ledger.clone();
        let entry = spend(ada.id, 7, "call-42");
        tokio::spawn(async move { ledger.post(&entry).await })
    });
    let results: Vec<_> =
        join_all(attempts).await.into_iter().map(|joined| joined.unwrap().unwrap()).collect();
    let first = results.iter().find(|posted| !posted.replayed).expect("one write applied");
    assert_eq!(results.iter().filter(|posted| !posted.replayed).count(), 1);
    for posted in &results {
        assert_eq!((posted.ledger_id, posted.balance_after, posted.amount), (first.ledger_id, 93, -7));
    }
    assert_eq!(balance(&db, ada.id).await, 93);
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM credit_ledger WHERE user_id = $1 AND kind = 'usage'")
            .bind(ada.id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(rows, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_key_reused_for_another_request_is_refused(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let ledger = &server.state.ledger;
    ledger.post(&spend(ada.id, 7, "call-1")).await.unwrap();
    for other in
        [spend(ada.id, 8, "call-1"), NewEntry { reason: "other".into(), ..spend(ada.id, 7, "call-1") }]
    {
        let refused = ledger.post(&other).await.unwrap_err();
        assert!(matches!(refused, LedgerError::KeyReused(ref key) if key == "call-1"), "{refused:?}");
        // Through the API's error shape: 409.
        let response = axum::response::IntoResponse::into_response(vibe_host::error::ApiError::from(refused));
        assert_eq!(response.status(), reqwest::StatusCode::CONFLICT);
    }
    assert_eq!(balance(&db, ada.id).await, 93);
    // A grant cannot take credits away, and zero is no change.
    let bad = NewEntry { kind: EntryKind::Grant, ..spend(ada.id, 5, "g") };
    assert!(matches!(ledger.post(&bad).await, Err(LedgerError::Invalid { field: "amount", .. })));
    let zero = NewEntry { amount: 0, ..spend(ada.id, 5, "z") };
    assert!(matches!(ledger.post(&zero).await, Err(LedgerError::Invalid { field: "amount", .. })));
}
