//! The book club conversation with a model configured: the same first-party agents converse through
//! the gateway (a local server speaking the OpenAI Chat Completions wire format stands in for the
//! provider), the ideation agent takes the interview answers from the model's JSON, the spec agent
//! takes the model's spec, and the conversation ends in a validated, stored spec, billed to the
//! idea's owner.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::fake::{FakeProvider, INPUT_TOKENS, OUTPUT_TOKENS, Reply};
use super::{Format, config};
use crate::orchestrator::{idea_and_session, say, settled, start_workers};
use crate::support::TestServer;

/// A non-streamed Chat Completions answer whose text is `content`.
fn completion(content: &str) -> Reply {
    Reply::RawJson(
        json!({
            "id": "chatcmpl-book-club", "object": "chat.completion", "created": 1_700_000_000,
            "model": "gpt-test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS,
                      "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS}
        })
        .to_string(),
    )
}

/// The repository's example spec without its comments, as a model would write it.
fn example_spec() -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("$comment");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/examples/book-club.json");
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    strip(&mut spec);
    spec
}

#[sqlx::test(migrations = "../migrations")]
async fn with_a_model_the_book_club_conversation_ends_in_the_models_validated_spec(db: PgPool) {
    let provider = FakeProvider::start().await;
    let llm = config(&[(Format::OpenAi, &provider)]);
    let server = TestServer::start_with(db.clone(), |config| *config.llm = llm).await;
    vibe_host::agents::builtin::install(&server.state).await.unwrap();
    let _workers = start_workers(&server, "worker-a").await;
    let alice = server.signup("alice@example.com").await;
    let (idea, session) = idea_and_session(&alice, "Book club").await;

    let nothing_yet =
        json!({"problem": null, "users": null, "data": null, "pages": null, "permissions": null});
    let mut answers = nothing_yet.clone();
    answers["problem"] = json!("we forget what we read and who brings snacks");
    provider.push(completion(
        &json!({"reply": "Lovely! Who will use the app?", "answers": answers, "complete": false}).to_string(),
    ));
    say(&alice, session, "I want an app for my book club to track what we read and who brings snacks").await;
    let body = settled(&alice, session).await;
    assert_eq!(body["guided"], false, "a provider is configured: {body:#}");
    let reply = body["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (reply["role"].as_str(), reply["content"].as_str()),
        (Some("agent"), Some("Lovely! Who will use the app?"))
    );

    // The model has everything after the next answer; the spec agent then asks it for the spec.
    let answers = json!({
        "problem": "we forget what we read and who brings snacks",
        "users": "the ten members of our club and our organiser",
        "data": "books with title, author and date read; meetings with date and host; who brings which snack",
        "pages": "a list of books, the meetings, a snack sign-up",
        "permissions": "members add and edit; the organiser deletes",
    });
    provider.push(completion(
        &json!({"reply": "Thanks, that is all I need.", "answers": answers, "complete": true}).to_string(),
    ));
    provider.push(completion(&format!("Here is the spec:\n```json\n{}\n```", example_spec())));
    say(&alice, session, "The ten members and our organiser; members add and edit, the organiser deletes")
        .await;
    let body = settled(&alice, session).await;
    assert_eq!(body["phase"], "specification", "{body:#}");
    let last = body["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["role"].as_str(), last["agent_type"].as_str()), (Some("agent"), Some("spec")), "{last}");

    let response = alice.get(&format!("/api/ideas/{idea}/spec")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let spec: Value = response.json().await.unwrap();
    vibe_host::spec::validate(&spec["spec"]).expect("the stored spec validates");
    assert_eq!(spec["spec"], example_spec(), "the model's spec was taken as it proposed it");
    assert_eq!(provider.requests().len(), 3, "two ideation turns and one spec turn asked the model");

    let (calls, charged): (i64, Option<i64>) = sqlx::query_as(
        "SELECT count(*), sum(credits)::bigint FROM llm_calls c JOIN agent_sessions s ON s.id = c.session_id \
         WHERE s.idea_id = $1",
    )
    .bind(idea)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(calls, 3);
    assert!(charged.unwrap_or(0) > 0, "the owner paid for the model's work");
}
