//! A real `vibe serve` killed with SIGKILL while it holds credits: an agent turn's LLM call has reserved
//! its ceiling through the ledger and the provider has the request when the process dies, so nothing
//! settles or releases the hold. The next `vibe serve` releases it at start (before it answers), the
//! balance is whole, and the turn, taken over by the new process, is charged once.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::balance;
use crate::events::cluster::{Vibe, database_url};
use crate::llm::fake::{FakeProvider, Reply};
use crate::orchestrator::{idea_and_session, route_echo};
use crate::support::TestServer;

/// How long a reservation lives in the processes of this test: past it, only a sweep can matter.
const HOLD_SECS: u64 = 2;

/// A reservation row: (id, status, amount, expired).
async fn llm_holds(db: &PgPool, user: Uuid) -> Vec<(Uuid, String, i64, bool)> {
    sqlx::query_as(
        "SELECT id, status, amount, expires_at <= now() FROM credit_reservations \
         WHERE user_id = $1 AND idempotency_key LIKE 'llm_call:%' ORDER BY created_at",
    )
    .bind(user)
    .fetch_all(db)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_process_killed_while_holding_credits_leaves_the_balance_whole_after_restart(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_owned();
    let server = TestServer::start_with(db.clone(), |config| config.data_dir = data_dir).await;
    route_echo(&server).await;
    let alice = server.signup("alice@example.com").await;
    let (_, session) = idea_and_session(&alice, "Credits club").await;
    let start_balance = balance(&db, alice.id).await;
    assert!(start_balance > 0);

    // The provider keeps the first call's request unanswered; later calls get its default answer.
    let provider = FakeProvider::start().await;
    provider.push(Reply::Hang);
    let base = provider.openai_base().to_string();
    let hold_secs = HOLD_SECS.to_string();
    let env = [
        ("VIBE_LLM_PROVIDERS", "openai"),
        ("VIBE_OPENAI_API_KEY", "sk-openai-test-crash"),
        ("VIBE_OPENAI_BASE_URL", base.as_str()),
        ("VIBE_OPENAI_MODEL", "gpt-test"),
        ("VIBE_LLM_TIMEOUT_SECS", "60"),
        ("VIBE_JOB_LEASE_SECS", "2"),
        ("VIBE_CREDITS_RESERVATION_SECS", hold_secs.as_str()),
        // No periodic sweep within the test: only a process start may release the hold.
        ("VIBE_CREDITS_SWEEP_SECS", "3600"),
    ];
    let url = database_url(&db);
    let first = Vibe::start_in(dir, &url, &server.token_key, &env).await;
    let http = reqwest::Client::new();
    let response = http
        .post(format!("http://{}/api/sessions/{session}/message", first.addr))
        .bearer_auth(&alice.token)
        .json(&serde_json::json!({"content": "what should I build?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    // Wait until the call holds its credits and the provider has the request, then kill the process.
    let deadline = Instant::now() + Duration::from_secs(60);
    let held = loop {
        let holds = llm_holds(&db, alice.id).await;
        if let [(id, status, amount, _)] = holds.as_slice()
            && status == "held"
            && !provider.requests().is_empty()
        {
            break (*id, *amount);
        }
        assert!(Instant::now() < deadline, "no LLM call held credits: {holds:?}\n{}", first.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let dir = first.kill_9();
    let (hold, held_amount) = held;
    assert!(held_amount > 0);

    // Dead, the process settles nothing: the hold is still there, nothing was charged, and while it
    // lives the credits are not available.
    let holds = llm_holds(&db, alice.id).await;
    assert_eq!(holds.len(), 1);
    assert_eq!(holds[0].1, "held");
    assert_eq!(balance(&db, alice.id).await, start_balance, "nothing charged");
    let pending: String = sqlx::query_scalar("SELECT outcome FROM llm_calls WHERE session_id = $1")
        .bind(session)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(pending, "pending", "killed mid-call");
    // Past its expiry the hold no longer counts, but nothing has marked it released yet.
    let deadline = Instant::now() + Duration::from_secs(HOLD_SECS + 10);
    while !llm_holds(&db, alice.id).await[0].3 {
        assert!(Instant::now() < deadline, "the hold never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(llm_holds(&db, alice.id).await[0].1, "held");

    // The restart releases it before answering.
    let second = Vibe::start_in(dir, &url, &server.token_key, &env).await;
    let status: String = sqlx::query_scalar("SELECT status FROM credit_reservations WHERE id = $1")
        .bind(hold)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(status, "released", "{}", second.log());
    let abandoned: (String, Option<String>) = sqlx::query_as(
        "SELECT outcome, error FROM llm_calls WHERE session_id = $1 ORDER BY started_at LIMIT 1",
    )
    .bind(session)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(abandoned.0, "failed", "the killed call's record says it never ended: {abandoned:?}");

    // The new process takes the turn over; its LLM call is answered and charged, once.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let body: Value = http
            .get(format!("http://{}/api/sessions/{session}", second.addr))
            .bearer_auth(&alice.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if body["pending_turns"] == 0 {
            assert!(body["messages"][1]["content"].as_str().unwrap().contains("llm: answer to:"), "{body:#}");
            break;
        }
        assert!(Instant::now() < deadline, "the turn was never completed:\n{}", second.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let charged: Vec<(String, i64)> = sqlx::query_as(
        "SELECT idempotency_key, amount FROM credit_ledger WHERE user_id = $1 AND kind = 'usage' ORDER BY id",
    )
    .bind(alice.id)
    .fetch_all(&db)
    .await
    .unwrap();
    let llm: Vec<&(String, i64)> = charged.iter().filter(|(key, _)| key.starts_with("llm_call:")).collect();
    assert_eq!(llm.len(), 1, "only the answered call is charged: {charged:?}");
    let spent: i64 = charged.iter().map(|(_, amount)| -amount).sum();
    assert_eq!(balance(&db, alice.id).await, start_balance - spent);
    let holds = llm_holds(&db, alice.id).await;
    assert_eq!(
        holds.iter().map(|(_, status, _, _)| status.as_str()).collect::<Vec<_>>(),
        ["released", "settled"],
        "the killed call's hold released, the answered one's settled"
    );

    // The owner sees it per session.
    let credits: Value = http
        .get(format!("http://{}/api/credits", second.addr))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(credits["balance"], start_balance - spent, "{credits}");
    assert_eq!(credits["usage"]["sessions"][0]["id"], session.to_string(), "{credits}");
    assert_eq!(credits["usage"]["sessions"][0]["credits"], spent, "{credits}");
}
