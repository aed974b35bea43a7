//! Billing, credit refusals, rate limits, request limits, and the secrecy of API keys.

use std::io::Write;
use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::agents::runtime::{LlmError, LlmGateway, LlmMessage, LlmRole};

use super::fake::{FakeProvider, Reply};
use super::{ANTHROPIC_KEY, Format, OPENAI_KEY, account, ask, balance, calls, config, gateway, read_all};

#[derive(sqlx::FromRow, Debug)]
struct LedgerRow {
    kind: String,
    amount: i64,
    balance_after: i64,
    reference_type: Option<String>,
    reference_id: Option<String>,
    idempotency_key: Option<String>,
}

async fn ledger(db: &PgPool, user_id: Uuid) -> Vec<LedgerRow> {
    sqlx::query_as(
        "SELECT kind, amount, balance_after, reference_type, reference_id, idempotency_key \
         FROM credit_ledger WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_call_is_charged_to_the_idea_owner_on_the_ledger_session_and_call_record(db: PgPool) {
    let server = FakeProvider::start().await;
    let gateway = gateway(&config(&[(Format::Anthropic, &server)]), &db).await;
    let account = account(&db, 20).await;
    let session = account.call.session_id;

    // 1000 input tokens at 1 credit per 1k, 500 output at 3 per 1k: 2.5, rounded up to 3.
    gateway.complete(&account.call, ask("hello")).await.unwrap();
    assert_eq!(balance(&db, account.user_id).await, 17);
    let rows = ledger(&db, account.user_id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let usage = &rows[1];
    assert_eq!((usage.kind.as_str(), usage.amount, usage.balance_after), ("usage", -3, 17));
    assert_eq!(usage.reference_type.as_deref(), Some("agent_session"));
    assert_eq!(usage.reference_id, Some(session.to_string()));
    let (call_id, provider, model, input, output, credits, outcome, latency): (
        Uuid,
        String,
        String,
        i32,
        i32,
        i64,
        String,
        Option<i32>,
    ) = sqlx::query_as(
        "SELECT id, provider, model, input_tokens, output_tokens, credits, outcome, latency_ms \
         FROM llm_calls WHERE session_id = $1",
    )
    .bind(session)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(usage.idempotency_key, Some(format!("llm_call:{call_id}")));
    assert_eq!(
        (provider.as_str(), model.as_str(), input, output, credits, outcome.as_str()),
        ("anthropic", "claude-test", 1000, 500, 3, "ok")
    );
    assert!(latency.is_some());
    let consumed: i64 = sqlx::query_scalar("SELECT credits_consumed FROM agent_sessions WHERE id = $1")
        .bind(session)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(consumed, 3);

    // A stream is billed when it ends.
    let mut stream = gateway.stream(&account.call, ask("again")).await.unwrap();
    read_all(&mut stream).await.unwrap();
    assert_eq!(balance(&db, account.user_id).await, 14);
    assert_eq!(calls(&db, session).await, vec![("ok".to_owned(), 3), ("ok".to_owned(), 3)]);

    // A stream dropped unread is billed for what was used, in the background.
    let stream = gateway.stream(&account.call, ask("dropped")).await.unwrap();
    drop(stream);
    for _ in 0..100 {
        if calls(&db, session).await.iter().all(|(outcome, _)| outcome != "pending") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let recorded = calls(&db, session).await;
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[2].0, "failed", "an abandoned stream is settled: {recorded:?}");
    let total: i64 = recorded.iter().map(|(_, credits)| credits).sum();
    assert_eq!(balance(&db, account.user_id).await, 20 - total, "the ledger and the calls agree");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_call_the_balance_cannot_cover_is_refused_before_the_provider_is_asked(db: PgPool) {
    let server = FakeProvider::start().await;
    let gateway = Arc::new(gateway(&config(&[(Format::OpenAi, &server)]), &db).await);
    // max_tokens 1000 at 3 per 1k makes a ceiling over 3 credits.
    let account = account(&db, 3).await;

    let error = gateway.complete(&account.call, ask("hello")).await.unwrap_err();
    let LlmError::InsufficientCredits(message) = &error else { panic!("{error:?}") };
    assert!(message.contains("3 are available"), "{message}");
    assert_eq!(server.requests().len(), 0, "the provider was not asked");
    assert_eq!(balance(&db, account.user_id).await, 3);
    assert_eq!(ledger(&db, account.user_id).await.len(), 1, "only the grant");
    assert!(calls(&db, account.call.session_id).await.is_empty(), "nothing written");

    // A smaller answer fits; its cost is capped by the balance.
    let mut small = ask("hello");
    small.max_tokens = Some(100);
    gateway.complete(&account.call, small).await.unwrap();
    assert_eq!(balance(&db, account.user_id).await, 0, "3 credits charged, never below zero");

    // Each call reserves 4 credits: with 7, a second call while the first is out is refused. The
    // provider holds the first call's request (until the gateway's timeout) so the two overlap.
    let account = super::account(&db, 7).await;
    server.push(Reply::Hang);
    let first = {
        let (gateway, call) = (gateway.clone(), account.call.clone());
        tokio::spawn(async move { gateway.complete(&call, ask("one")).await })
    };
    let asked = server.requests().len();
    while server.requests().len() == asked {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let second = gateway.complete(&account.call, ask("two")).await;
    assert!(matches!(second, Err(LlmError::InsufficientCredits(_))), "{second:?}");
    let _ = first.await.unwrap();
    assert!(balance(&db, account.user_id).await >= 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn calls_beyond_the_per_user_rate_are_refused(db: PgPool) {
    let server = FakeProvider::start().await;
    let mut config = config(&[(Format::Anthropic, &server)]);
    config.llm_rate_per_minute = 2;
    let gateway = gateway(&config, &db).await;
    let account = account(&db, 100).await;
    gateway.complete(&account.call, ask("one")).await.unwrap();
    gateway.complete(&account.call, ask("two")).await.unwrap();
    let error = gateway.complete(&account.call, ask("three")).await.unwrap_err();
    assert!(matches!(error, LlmError::RateLimited(_)), "{error:?}");
    assert_eq!(server.requests().len(), 2);
    // Another user has a budget of their own.
    let other = super::account(&db, 100).await;
    gateway.complete(&other.call, ask("mine")).await.unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn oversized_requests_are_refused_and_max_tokens_capped(db: PgPool) {
    let server = FakeProvider::start().await;
    let mut config = config(&[(Format::OpenAi, &server)]);
    config.llm_max_tokens = 600;
    let gateway = gateway(&config, &db).await;
    let account = account(&db, 100).await;

    let mut huge = ask("hello");
    huge.messages.push(LlmMessage { role: LlmRole::User, content: "x".repeat(300 * 1024) });
    let error = gateway.complete(&account.call, huge).await.unwrap_err();
    assert!(matches!(error, LlmError::TooLarge(_)), "{error:?}");

    let mut greedy = ask("hello");
    greedy.max_tokens = Some(1_000_000);
    gateway.complete(&account.call, greedy).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "the oversized request never left");
    assert_eq!(requests[0].body["max_tokens"], 600);

    let mut empty = ask("hello");
    empty.messages.clear();
    assert!(matches!(gateway.complete(&account.call, empty).await, Err(LlmError::Provider(_))));
}

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn api_keys_never_appear_in_errors_logs_or_debug_output(db: PgPool) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let anthropic = FakeProvider::start().await;
    let openai = FakeProvider::start().await;
    // Providers that echo the key they were sent, in a refusal and in a server error.
    anthropic.push(Reply::Status {
        status: 500,
        message: format!("bad key {ANTHROPIC_KEY}"),
        retry_after: None,
    });
    anthropic.push(Reply::Status {
        status: 500,
        message: format!("bad key {ANTHROPIC_KEY}"),
        retry_after: None,
    });
    openai.push(Reply::Status {
        status: 401,
        message: format!("Incorrect API key provided: {OPENAI_KEY}"),
        retry_after: None,
    });
    let config = config(&[(Format::Anthropic, &anthropic), (Format::OpenAi, &openai)]);
    let gateway = gateway(&config, &db).await;
    let account = account(&db, 100).await;

    let error = gateway.complete(&account.call, ask("hello")).await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(text.contains("HTTP 401") && text.contains("[redacted]"), "{text}");
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("an LLM provider call failed"), "the logs were captured: {logs}");
    let error_rows: Vec<Option<String>> =
        sqlx::query_scalar("SELECT error FROM llm_calls").fetch_all(&db).await.unwrap();
    let debug = format!("{config:?} {gateway:?}");
    for key in [ANTHROPIC_KEY, OPENAI_KEY] {
        assert!(!text.contains(key), "error: {text}");
        assert!(!logs.contains(key), "logs: {logs}");
        assert!(!debug.contains(key), "debug: {debug}");
        assert!(error_rows.iter().flatten().all(|row| !row.contains(key)), "{error_rows:?}");
    }
    // The keys did reach the providers, in their headers only.
    assert_eq!(anthropic.requests()[0].headers["x-api-key"], ANTHROPIC_KEY);
}
