//! Repairing a build with the build agent (`plugins/build`, installed as at start): with a model
//! (a local server speaking the OpenAI Chat Completions wire format), the model's corrected
//! `src/lib.rs` comes back through `repair()`, in one session per build that the owner pays for;
//! an answer touching the migrations or escaping `src/` is refused and nothing is written; in
//! guided mode repairs are off and the agent changes nothing. Real components, real PostgreSQL.
//! Compiling what comes back is the pipeline's part.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::agents::builtin;
use vibe_host::agents::dispatch::run_turn;
use vibe_host::agents::runtime::{Artifact, ContentType, Message, Role, TurnInput};
use vibe_host::build::codegen::GeneratedApp;
use vibe_host::build::repair::{self, RepairError, repair};
use vibe_host::credits::{self, Entry, EntryKind};

use crate::llm::fake::{FakeProvider, INPUT_TOKENS, OUTPUT_TOKENS, Reply};
use crate::llm::{Format, config};
use crate::support::TestServer;

const BROKEN: &str = "pub fn title_of(book: &Book) -> &str {\n    &book.titel\n}\n";
const FIXED: &str = "pub fn title_of(book: &Book) -> &str {\n    &book.title\n}\n";
const MIGRATION: &str =
    "CREATE TABLE books (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text NOT NULL);";
const ERRORS: &str = "error[E0609]: no field `titel` on type `&Book`\n --> src/lib.rs:2:11\n  |\n2 |     &book.titel\n  |           ^^^^^ unknown field\n  |\nhelp: a field with a similar name exists: `title`\n\nerror: could not compile `book-club` due to 1 previous error";

/// A generated app whose `src/lib.rs` does not compile.
fn broken() -> GeneratedApp {
    GeneratedApp {
        files: BTreeMap::from([
            ("src/lib.rs".to_owned(), BROKEN.to_owned()),
            ("migrations/0001_initial.sql".to_owned(), MIGRATION.to_owned()),
        ]),
    }
}

fn spec() -> Value {
    json!({"spec_version": 1, "app": {"name": "Book Club", "slug": "book-club"}})
}

/// A non-streamed Chat Completions answer whose text is `content`.
fn completion(content: &Value) -> Reply {
    Reply::RawJson(
        json!({
            "id": "chatcmpl-repair", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content.to_string()},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS,
                      "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS}
        })
        .to_string(),
    )
}

/// Someone building an app (with `credits`) and their idea.
async fn builder(db: &PgPool, credits: i64) -> (Uuid, Uuid) {
    let (user, idea) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::query("INSERT INTO users (id, email) VALUES ($1, $2)")
        .bind(user)
        .bind(format!("{user}@example.com"))
        .execute(db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO ideas (id, user_id, name, status) VALUES ($1, $2, 'Book club', 'building')")
        .bind(idea)
        .bind(user)
        .execute(db)
        .await
        .unwrap();
    if credits > 0 {
        let mut conn = db.acquire().await.unwrap();
        let grant = Entry {
            user_id: user,
            kind: EntryKind::Grant,
            amount: credits,
            reason: "test credits",
            reference: None,
            idempotency_key: "test-grant",
        };
        credits::apply(&mut conn, &grant).await.unwrap();
    }
    (user, idea)
}

/// `(version, written_by)` of the idea's `code` artifact, oldest first.
async fn code_versions(db: &PgPool, idea: Uuid) -> Vec<(i32, Option<String>)> {
    sqlx::query_as("SELECT version, written_by FROM pipeline_artifacts WHERE idea_id = $1 AND name = 'code' ORDER BY version")
        .bind(idea)
        .fetch_all(db)
        .await
        .unwrap()
}

/// The idea's `build` sessions: `(id, status, credits_consumed)`, oldest first.
async fn build_sessions(db: &PgPool, idea: Uuid) -> Vec<(Uuid, String, i64)> {
    sqlx::query_as(
        "SELECT id, status, credits_consumed FROM agent_sessions WHERE idea_id = $1 AND agent_type = 'build' \
         ORDER BY started_at, id",
    )
    .bind(idea)
    .fetch_all(db)
    .await
    .unwrap()
}

/// `(role, content)` of a session's transcript, oldest first.
async fn transcript(db: &PgPool, session: Uuid) -> Vec<(String, String)> {
    sqlx::query_as("SELECT role, content FROM agent_messages WHERE session_id = $1 ORDER BY id")
        .bind(session)
        .fetch_all(db)
        .await
        .unwrap()
}

/// The text the model was asked in request `index`.
fn asked(provider: &FakeProvider, index: usize) -> String {
    let body = &provider.requests()[index].body;
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system", "the agent's instructions first: {body}");
    messages.last().unwrap()["content"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_models_fix_comes_back_through_repair_in_one_paid_session_per_build(db: PgPool) {
    let provider = FakeProvider::start().await;
    let llm = config(&[(Format::OpenAi, &provider)]);
    let server = TestServer::start_with(db.clone(), |config| *config.llm = llm).await;
    builtin::install(&server.state).await.unwrap();
    let state = &server.state;
    assert!(repair::enabled(state), "a model is configured");
    let (user, idea) = builder(&db, 1000).await;

    let fix = json!({"files": {"src/lib.rs": FIXED}, "summary": "The field is `title`, not `titel`."});
    provider.push(completion(&fix));
    let fixed =
        repair(state, idea, user, &spec(), &broken(), ERRORS).await.unwrap().expect("the code changed");
    assert_eq!(fixed.files["src/lib.rs"], FIXED, "the model's file came back");
    assert_eq!(fixed.files["migrations/0001_initial.sql"], MIGRATION, "the migration is untouched");
    assert_eq!(fixed.files.len(), 2);

    let prompt = asked(&provider, 0);
    assert!(prompt.contains("no field `titel` on type `&Book`"), "the model saw the errors: {prompt}");
    assert!(prompt.contains(&format!("--- src/lib.rs\n```rust\n{BROKEN}")), "and the broken file: {prompt}");
    assert!(prompt.contains("\"Book Club\""), "and the spec: {prompt}");
    assert_eq!(
        code_versions(&db, idea).await,
        [(1, Some("platform".to_owned())), (2, Some("vibe-build@0.1.0".to_owned()))],
        "the platform's files, then the agent's"
    );
    let sessions = build_sessions(&db, idea).await;
    assert_eq!(sessions.len(), 1);
    let (session, status, spent) = sessions[0].clone();
    assert_eq!(status, "active");
    assert!(spent > 0, "the model's work is billed to the session");
    assert_eq!(repair::credits_consumed(state, idea).await.unwrap(), spent);
    assert_eq!(
        transcript(&db, session).await,
        [
            ("system".to_owned(), ERRORS.to_owned()),
            ("agent".to_owned(), "Changed src/lib.rs: The field is `title`, not `titel`.".to_owned()),
        ]
    );
    let balance: i64 = sqlx::query_scalar("SELECT credits_balance FROM users WHERE id = $1")
        .bind(user)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(balance, 1000 - spent, "the person building paid");

    // The next attempt of the same build: same session, the model sees its earlier change, and
    // an answer that changes nothing gives nothing to rebuild.
    provider.push(completion(&json!({"files": {"src/lib.rs": FIXED}, "summary": "It is already right."})));
    let tests_failed = "test `GET /books` failed: expected 200, got 500";
    let again = repair(state, idea, user, &spec(), &fixed, tests_failed).await.unwrap();
    assert_eq!(again, None);
    let prompt = asked(&provider, 1);
    assert!(prompt.contains(tests_failed), "{prompt}");
    assert!(
        prompt.contains("earlier attempts of this build:\n- Changed src/lib.rs: The field is `title`"),
        "{prompt}"
    );
    let sessions = build_sessions(&db, idea).await;
    assert_eq!(sessions.len(), 1, "one session per build");
    assert_eq!(
        code_versions(&db, idea).await.len(),
        2,
        "the agent's version was the current one; nothing new"
    );
    let both = repair::credits_consumed(state, idea).await.unwrap();
    assert!(both > spent, "the second call is billed too");

    // The build ends: its session closes with what it cost; the next build opens its own.
    assert_eq!(repair::finish(state, idea).await.unwrap(), both);
    assert_eq!(repair::credits_consumed(state, idea).await.unwrap(), 0);
    provider.push(completion(&fix));
    repair(state, idea, user, &spec(), &broken(), ERRORS).await.unwrap().expect("fixed again");
    let sessions = build_sessions(&db, idea).await;
    assert_eq!(
        sessions.iter().map(|(_, status, _)| status.as_str()).collect::<Vec<_>>(),
        ["completed", "active"]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_model_answer_touching_the_migrations_or_escaping_src_is_refused(db: PgPool) {
    let provider = FakeProvider::start().await;
    let llm = config(&[(Format::OpenAi, &provider)]);
    let server = TestServer::start_with(db.clone(), |config| *config.llm = llm).await;
    builtin::install(&server.state).await.unwrap();
    let (user, idea) = builder(&db, 1000).await;

    for path in ["migrations/x.sql", "../evil"] {
        let answer = json!({"files": {"src/lib.rs": FIXED, path: "DROP TABLE books;"}, "summary": "Fixed."});
        provider.push(completion(&answer));
        let error = repair(&server.state, idea, user, &spec(), &broken(), ERRORS).await.unwrap_err();
        assert!(matches!(error, RepairError::Agent(_)), "{error:?}");
        let text = error.to_string();
        assert!(text.contains("refused") && text.contains(&format!("`{path}`")), "{text}");
    }
    assert_eq!(
        code_versions(&db, idea).await,
        [(1, Some("platform".to_owned()))],
        "the same files were given twice, nothing of the agent's was written"
    );
    let sessions = build_sessions(&db, idea).await;
    assert_eq!(sessions.len(), 1);
    let said = transcript(&db, sessions[0].0).await;
    let roles: Vec<&str> = said.iter().map(|(role, _)| role.as_str()).collect();
    assert_eq!(roles, ["system", "system", "system", "system"], "the errors and each refusal: {said:?}");
    assert!(said[1].1.contains("`migrations/x.sql`"), "{said:?}");
    assert!(said[3].1.contains("`../evil`"), "{said:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn in_guided_mode_repairs_are_off_and_the_agent_changes_nothing(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    builtin::install(&server.state).await.unwrap();
    let state = &server.state;
    assert!(!repair::enabled(state), "no model: guided mode");
    let (user, idea) = builder(&db, 0).await;
    assert_eq!(repair(state, idea, user, &spec(), &broken(), ERRORS).await.unwrap(), None);
    assert!(build_sessions(&db, idea).await.is_empty(), "the agent was not called");
    assert!(code_versions(&db, idea).await.is_empty());

    // The agent itself, given a turn anyway, says the templates stand and writes nothing.
    let session = Uuid::new_v4();
    sqlx::query("INSERT INTO agent_sessions (id, user_id, idea_id, agent_type) VALUES ($1, $2, $3, 'build')")
        .bind(session)
        .bind(user)
        .bind(idea)
        .execute(&db)
        .await
        .unwrap();
    let code = json!({"files": broken().files}).to_string();
    let input = TurnInput {
        agent_type: "build".to_owned(),
        transcript: Vec::new(),
        artifacts: vec![Artifact {
            name: "code".to_owned(),
            content_type: ContentType::Json,
            content: code,
            version: 1,
        }],
        message: Message { role: Role::System, agent_type: None, content: ERRORS.to_owned() },
    };
    let output = run_turn(state, "build", session, input).await.unwrap();
    assert_eq!(output.replies.len(), 1);
    assert!(
        output.replies[0].contains("templates generated it: nothing was changed"),
        "{:?}",
        output.replies
    );
    assert!(output.artifacts.is_empty());
}
