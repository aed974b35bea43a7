//! An agent plugin reaching the model: the echo component, published, approved and routed, takes
//! a turn through the dispatcher of a server whose gateway points at the local provider; the
//! session's owner pays for the LLM calls and for each agent call, all on the one ledger.

use serde_json::json;
use sqlx::PgPool;
use vibe_host::agents::dispatch::run_turn;
use vibe_host::ledger::{EntryKind, NewEntry};

use super::fake::FakeProvider;
use super::{Format, balance, config};
use crate::plugins::{route, sessions, turn, two_echo_versions};
use crate::support::TestServer;

#[sqlx::test(migrations = "../migrations")]
async fn an_agent_turn_reaches_the_provider_through_the_gateway_and_is_billed(db: PgPool) {
    let provider = FakeProvider::start().await;
    let llm = config(&[(Format::OpenAi, &provider)]);
    let server = TestServer::start_with(db.clone(), |config| *config.llm = llm).await;
    assert!(server.state.llm.configured(), "a provider is configured: not guided mode");
    let operator = two_echo_versions(&server).await;
    route(&operator, "ideation", json!({"echo@0.1.0": 1})).await;
    let session = sessions(&db, "ideation", 1).await[0];
    let owner: uuid::Uuid = sqlx::query_scalar("SELECT user_id FROM agent_sessions WHERE id = $1")
        .bind(session)
        .fetch_one(&db)
        .await
        .unwrap();
    let grant = NewEntry {
        user_id: owner,
        kind: EntryKind::Grant,
        amount: 50,
        reason: "test credits".to_owned(),
        reference: None,
        idempotency_key: "grant".to_owned(),
    };
    server.state.ledger.post(&grant).await.unwrap();
    // Each agent call that succeeds costs this much on top of its LLM calls.
    let per_call = server.state.ledger.config().price_agent_call;
    assert!(per_call > 0);
    let agent_calls = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM credit_ledger WHERE user_id = $1 AND kind = 'usage' \
             AND reference_type = 'agent_session' AND reference_id = $2 AND idempotency_key LIKE 'agent_call:%'",
        )
        .bind(owner)
        .bind(session.to_string())
        .fetch_one(&db)
        .await
        .unwrap()
    };

    let output =
        run_turn(&server.state, "ideation", session, turn("ideation", "what should I build?")).await.unwrap();
    assert!(output.replies[0].contains("llm: answer to: what should I build?"), "{}", output.replies[0]);
    let sent = &provider.requests()[0];
    assert_eq!(sent.body["messages"][0], json!({"role": "system", "content": "be brief"}));

    let (plugin, credits): (String, i64) =
        sqlx::query_as("SELECT plugin_name, credits FROM llm_calls WHERE session_id = $1")
            .bind(session)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((plugin.as_str(), credits), ("echo", 3));
    let consumed: i64 = sqlx::query_scalar("SELECT credits_consumed FROM agent_sessions WHERE id = $1")
        .bind(session)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(consumed, 3 + per_call, "the LLM call and the agent call, counted on the session");
    assert_eq!(balance(&db, owner).await, 50 - 3 - per_call);
    assert_eq!(agent_calls().await, 1);

    // A tool round trip through `complete-with-tools`: the model calls the agent's tool, the
    // agent answers, the model uses the result.
    let output =
        run_turn(&server.state, "ideation", session, turn("ideation", "weather in Paris")).await.unwrap();
    assert_eq!(output.replies, vec![r#"tools: called 1 then: tool said: sunny ({"q":"Paris"})"#.to_owned()]);
    let requests = provider.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[1].body["tools"][0]["function"]["name"], "weather");
    assert_eq!(requests[2].body["messages"][2]["role"], "tool");
    let left = 50 - 3 * 3 - 2 * per_call;
    assert_eq!(balance(&db, owner).await, left, "three LLM calls of 3 credits and two agent calls");
    assert_eq!(agent_calls().await, 2);

    // Without credits the agent sees the refusal as an ordinary error and still answers; the agent
    // call itself cannot be charged, the owner is told, and the balance stays at zero.
    let spend_all = NewEntry {
        user_id: owner,
        kind: EntryKind::Adjustment,
        amount: -left,
        reason: "test: nothing left".to_owned(),
        reference: None,
        idempotency_key: "empty".to_owned(),
    };
    server.state.ledger.post(&spend_all).await.unwrap();
    let output = run_turn(&server.state, "ideation", session, turn("ideation", "again")).await.unwrap();
    assert!(output.replies[0].contains("llm: Error::InsufficientCredits("), "{}", output.replies[0]);
    assert_eq!(provider.requests().len(), 3, "the refused call never left");
    assert_eq!(balance(&db, owner).await, 0);
    assert_eq!(agent_calls().await, 2);
    let told: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE kind = 'notification' AND user_id = $1 \
         AND data->>'kind' = 'insufficient_credits'",
    )
    .bind(owner)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(told, 1, "told once, however many refusals");
}
