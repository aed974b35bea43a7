//! The conversation issue 5 is done by, over the API alone and offline (guided mode): a person
//! describes their book club app, the first-party ideation agent interviews them, hands off to the
//! spec agent, and the conversation ends in a validated, stored spec the owner confirms. Real
//! plugins (installed as at `vibe serve` start), real job workers, real PostgreSQL.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{idea_and_session, say, settled, start_workers};
use crate::support::TestServer;

/// What the person answers to each question, found by what the question asks about.
const ANSWERS: &[(&str, &str)] = &[
    ("problem", "We keep forgetting which books we read and who is bringing snacks to the next meeting"),
    ("who will use", "The members of our book club, about ten friends, and one organiser"),
    (
        "keep track of",
        "Books with title, author and the date we read them; meetings with a date and a host; \
         snacks: who brings what to which meeting",
    ),
    ("pages", "A list of books, the meetings, and a snack sign-up page"),
    ("who may do what", "Members can add and edit everything; only the organiser can delete things"),
];

/// The answer to `question`.
fn answer(question: &str) -> &'static str {
    let question = question.to_lowercase();
    ANSWERS
        .iter()
        .find(|(about, _)| question.contains(about))
        .map(|(_, answer)| *answer)
        .unwrap_or_else(|| panic!("an unexpected question: {question}"))
}

#[sqlx::test(migrations = "../migrations")]
async fn a_book_club_conversation_ends_in_a_validated_stored_spec(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    vibe_host::agents::builtin::install(&server.state).await.unwrap();
    let _workers = start_workers(&server, "worker-a").await;
    let alice = server.signup("alice@example.com").await;
    let (idea, session) = idea_and_session(&alice, "Book club").await;

    say(&alice, session, "I want an app for my book club to track what we read and who brings snacks").await;
    let mut turns = 0;
    let spec = loop {
        let body = settled(&alice, session).await;
        assert_eq!(body["guided"], true, "no LLM is configured");
        let last = body["messages"].as_array().unwrap().last().unwrap().clone();
        assert_ne!(last["role"], "system", "no turn failed: {last}");
        let response = alice.get(&format!("/api/ideas/{idea}/spec")).await;
        if response.status() == StatusCode::OK {
            assert_eq!(body["phase"], "specification", "{body:#}");
            assert_eq!(last["agent_type"], "spec", "the spec agent presented the spec: {last}");
            break response.json::<Value>().await.unwrap();
        }
        assert_eq!(last["role"], "agent", "the agent asked something: {body:#}");
        turns += 1;
        assert!(turns <= 10, "the interview never ended: {body:#}");
        say(&alice, session, answer(last["content"].as_str().unwrap())).await;
    };

    assert_eq!(spec["version"], 1);
    assert_eq!(spec["confirmed"], false);
    vibe_host::spec::validate(&spec["spec"]).expect("the stored spec validates");
    let entities: Vec<&str> =
        spec["spec"]["entities"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(entities.iter().any(|e| e.contains("book")), "{entities:?}");
    assert!(entities.iter().any(|e| e.contains("snack")), "{entities:?}");
    let stored: Value = sqlx::query_scalar("SELECT specifications FROM ideas WHERE id = $1")
        .bind(idea)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(stored, spec["spec"], "the idea carries its latest spec");

    let confirmed = alice.post(&format!("/api/ideas/{idea}/spec/confirm"), json!({"version": 1})).await;
    assert_eq!(confirmed.status(), StatusCode::OK, "{}", confirmed.text().await.unwrap());
    let confirmed = vibe_host::spec::confirmed(&db, idea).await.unwrap();
    assert_eq!(confirmed.map(|(version, _)| version), Some(1));
}
