//! The first-party agents (`plugins/`): installed at start through the same publishing path as a
//! third party's (signed, verified, compiled, approved, routed), idempotently and without touching
//! an operator's routing; then, in guided mode (no LLM provider), the ideation agent's interview
//! over real turns and the spec agent's spec. Real components, real PostgreSQL.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::AppState;
use vibe_host::agents::builtin::{self, Installed, PUBLISHER};
use vibe_host::agents::dispatch::run_turn;
use vibe_host::agents::registry::package::Manifest;
use vibe_host::agents::registry::routing::change;
use vibe_host::agents::registry::signing;
use vibe_host::agents::runtime::{ContentType, TurnOutput};

use crate::plugins::{
    approve, echo_bytes, echo_manifest, operator, published, publisher, route, sessions, turn,
};
use crate::support::TestServer;

const IDEATION: &str = "vibe-ideation@0.1.0";
const SPEC: &str = "vibe-spec@0.1.0";
const BUILD: &str = "vibe-build@0.1.0";

async fn weights(db: &PgPool, agent_type: &str) -> BTreeMap<String, u32> {
    change::current(db, agent_type).await.unwrap().weights
}

#[sqlx::test(migrations = "../migrations")]
async fn installing_is_idempotent_across_runs_and_concurrent_processes(db: PgPool) {
    let a = TestServer::start(db.clone()).await;
    let b = TestServer::start(db.clone()).await;
    let (first, second) = tokio::join!(builtin::install(&a.state), builtin::install(&b.state));
    let (first, second) = (first.unwrap(), second.unwrap());
    let published: Vec<&Installed> = first.iter().chain(&second).filter(|done| done.published).collect();
    assert_eq!(published.len(), 3, "each plugin published once: {first:?} {second:?}");
    let routed = first.iter().chain(&second).filter(|done| done.routed).count();
    assert_eq!(routed, 3, "each type routed once");

    let again = builtin::install(&a.state).await.unwrap();
    assert_eq!(
        again,
        vec![
            Installed {
                version_ref: IDEATION.into(),
                agent_type: "ideation".into(),
                published: false,
                routed: false
            },
            Installed {
                version_ref: SPEC.into(),
                agent_type: "spec".into(),
                published: false,
                routed: false
            },
            Installed {
                version_ref: BUILD.into(),
                agent_type: "build".into(),
                published: false,
                routed: false
            },
        ]
    );
    let versions: Vec<(String, String, String)> =
        sqlx::query_as("SELECT plugin_name, version, approval FROM plugin_versions ORDER BY plugin_name")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(
        versions,
        vec![
            ("vibe-build".into(), "0.1.0".into(), "approved".into()),
            ("vibe-ideation".into(), "0.1.0".into(), "approved".into()),
            ("vibe-spec".into(), "0.1.0".into(), "approved".into()),
        ]
    );
    let revisions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM agent_routing_revisions").fetch_one(&db).await.unwrap();
    assert_eq!(revisions, 3, "one routing per type, never re-set");
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM publisher_keys").fetch_one(&db).await.unwrap();
    assert_eq!(keys, 1, "one platform key, shared by both processes");
}

#[sqlx::test(migrations = "../migrations")]
async fn installed_versions_are_signed_verified_approved_described_and_routed(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    builtin::install(&server.state).await.unwrap();

    type Row = (Value, String, Vec<u8>, Vec<u8>, String, Option<Uuid>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.manifest, p.digest, p.signature, k.public_key, u.email, p.approved_by \
         FROM plugin_versions p JOIN publisher_keys k ON k.id = p.key_id JOIN users u ON u.id = k.user_id \
         ORDER BY p.plugin_name",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    for (manifest, digest, signature, public_key, email, approved_by) in rows {
        let manifest: Manifest = serde_json::from_value(manifest).unwrap();
        assert!(signing::verify(&public_key, &digest, &manifest, &signature), "{} verifies", manifest.name);
        assert_eq!(email, PUBLISHER);
        assert_eq!(manifest.publisher, PUBLISHER);
        assert!(manifest.capabilities.iter().any(|c| c.to_string() == "llm"), "it asked for llm");
        assert_eq!(approved_by, None, "approved by the platform itself");
        let stored =
            server.state.apps.artifacts().get(&digest).await.unwrap().expect("the component is stored");
        assert_eq!(vibe_host::agents::registry::store::digest(&stored), digest);
    }
    let has_password: bool =
        sqlx::query_scalar("SELECT password_hash IS NOT NULL FROM users WHERE email = $1")
            .bind(PUBLISHER)
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(!has_password, "nobody signs in as the platform's publisher");

    assert_eq!(weights(&db, "ideation").await, BTreeMap::from([(IDEATION.to_owned(), 100)]));
    assert_eq!(weights(&db, "spec").await, BTreeMap::from([(SPEC.to_owned(), 100)]));
    assert_eq!(weights(&db, "build").await, BTreeMap::from([(BUILD.to_owned(), 100)]));
    let routed = server.state.agents.routing().table("ideation").weights();
    assert_eq!(routed, vec![(IDEATION.to_owned(), 100)], "this process follows at once");

    let registry: Vec<(String, String, Value)> = sqlx::query_as(
        "SELECT agent_type, system_instructions, configuration FROM agent_versions ORDER BY agent_type",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(registry.len(), 3);
    for (agent_type, instructions, configuration) in registry {
        assert!(instructions.contains("You are Vibe's"), "{agent_type}: {instructions}");
        assert_eq!(configuration["stage"], agent_type.as_str());
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_operators_routing_is_never_overridden(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let op = operator(&server, "op@example.com").await;
    let alice = publisher(&server, "alice@example.com").await;
    published(&alice, &echo_bytes(), &echo_manifest("alice@example.com")).await;
    approve(&op, "echo", "0.1.0").await;
    route(&op, "ideation", json!({"echo@0.1.0": 1})).await;

    let installed = builtin::install(&server.state).await.unwrap();
    let ideation = installed.iter().find(|done| done.agent_type == "ideation").unwrap();
    assert!(ideation.published && !ideation.routed, "{ideation:?}");
    assert_eq!(weights(&db, "ideation").await, BTreeMap::from([("echo@0.1.0".to_owned(), 1)]));
    assert_eq!(
        weights(&db, "spec").await,
        BTreeMap::from([(SPEC.to_owned(), 100)]),
        "unrouted types are routed"
    );

    // The operator may still route to the built-in version, like to any other.
    route(&op, "ideation", json!({IDEATION: 1})).await;
    builtin::install(&server.state).await.unwrap();
    assert_eq!(
        weights(&db, "ideation").await,
        BTreeMap::from([(IDEATION.to_owned(), 1)]),
        "not re-set to 100"
    );
}

/// A session of `agent_type` on the idea of session `of`.
async fn session_on_same_idea(db: &PgPool, of: Uuid, agent_type: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO agent_sessions (id, user_id, idea_id, agent_type) \
         SELECT $1, user_id, idea_id, $3 FROM agent_sessions WHERE id = $2",
    )
    .bind(id)
    .bind(of)
    .bind(agent_type)
    .execute(db)
    .await
    .unwrap();
    id
}

/// The latest version and content of artifact `name` of session `session`'s idea.
async fn artifact(db: &PgPool, session: Uuid, name: &str) -> Option<(i32, Value)> {
    let row: Option<(i32, String)> = sqlx::query_as(
        "SELECT a.version, a.content FROM pipeline_artifacts a JOIN agent_sessions s ON s.idea_id = a.idea_id \
         WHERE s.id = $1 AND a.name = $2 ORDER BY a.version DESC LIMIT 1",
    )
    .bind(session)
    .bind(name)
    .fetch_optional(db)
    .await
    .unwrap();
    row.map(|(version, content)| (version, serde_json::from_str(&content).unwrap()))
}

async fn say(state: &AppState, agent_type: &str, session: Uuid, message: &str) -> TurnOutput {
    run_turn(state, agent_type, session, turn(agent_type, message)).await.unwrap()
}

fn written(output: &TurnOutput, name: &str) -> Option<Value> {
    let artifact = output.artifacts.iter().find(|artifact| artifact.name == name)?;
    assert_eq!(artifact.content_type, ContentType::Json);
    Some(serde_json::from_str(&artifact.content).unwrap())
}

#[sqlx::test(migrations = "../migrations")]
async fn the_book_club_interview_hands_off_and_ends_in_a_spec(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    builtin::install(&server.state).await.unwrap();
    let state = &server.state;
    let session = sessions(&db, "ideation", 1).await[0];

    let first = say(
        state,
        "ideation",
        session,
        "I want an app for my book club to track what we read and who brings snacks",
    )
    .await;
    assert_eq!(first.replies.len(), 1);
    assert!(first.replies[0].contains("Who will use it?"), "{}", first.replies[0]);
    assert!(first.hand_off.is_none());
    let (version, interview) = artifact(&db, session, "interview").await.expect("the interview is kept");
    assert_eq!(version, 1);
    assert_eq!(interview["asking"], "users");
    assert!(interview["answers"]["problem"].as_str().unwrap().contains("book club"));

    // "ok" says nothing: asked again, nothing recorded.
    let vague = say(state, "ideation", session, "ok").await;
    assert!(vague.replies[0].contains("For example"), "{}", vague.replies[0]);
    let answers = [
        ("The members of our club and me as the organiser", "keep track of"),
        (
            "books with title, author and date read; meetings with date and host; snacks: who brings what",
            "pages",
        ),
        ("a list of books, the meeting calendar and a snack sign-up", "Who may do what"),
    ];
    for (answer, next_question) in answers {
        let output = say(state, "ideation", session, answer).await;
        assert!(output.replies[0].contains(next_question), "after {answer:?}: {}", output.replies[0]);
        assert!(output.hand_off.is_none() && output.artifacts.is_empty());
    }
    let last =
        say(state, "ideation", session, "I manage the books and meetings, members sign up for snacks").await;
    let hand_off = last.hand_off.as_ref().expect("the interview hands off");
    assert_eq!(hand_off.to_stage, "spec");
    assert!(last.replies[0].contains("snacks: who brings what"), "the summary: {}", last.replies[0]);
    let summary = written(&last, "idea-summary").expect("an idea-summary artifact");
    assert_eq!(summary["format"], "vibe-idea-summary/1");
    assert_eq!(summary["users"], "The members of our club and me as the organiser");
    let (version, interview) = artifact(&db, session, "interview").await.unwrap();
    assert_eq!(version, 6, "one version per turn");
    assert_eq!(interview["complete"], true);
    assert_eq!(interview["skipped"], json!([]));

    // The spec stage, on the same idea.
    let spec_session = session_on_same_idea(&db, session, "spec").await;
    let output = say(state, "spec", spec_session, &hand_off.note).await;
    let spec = written(&output, "spec").expect("a spec artifact");
    assert!(
        output.replies[0].contains("Book Club") && output.replies[0].contains("Confirm"),
        "{}",
        output.replies[0]
    );
    assert_book_club_spec(&spec);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_spec_agent_without_an_interview_asks_for_one_and_writes_nothing(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    builtin::install(&server.state).await.unwrap();
    let session = sessions(&db, "spec", 1).await[0];
    let output = say(&server.state, "spec", session, "write my spec").await;
    assert!(output.replies[0].contains("interview"), "{}", output.replies[0]);
    assert!(output.artifacts.is_empty() && output.hand_off.is_none());
}

/// The spec's structure, checked directly (the platform's JSON Schema validator lands separately).
fn assert_book_club_spec(spec: &Value) {
    assert_eq!(spec["spec_version"], 1);
    assert_eq!(spec["app"]["name"], "Book Club");
    assert_eq!(spec["app"]["slug"], "book-club");
    let entities = spec["entities"].as_array().unwrap();
    let names: Vec<&str> = entities.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["book", "meeting", "snack_assignment"]);
    let fields = |index: usize| -> Vec<(String, String)> {
        entities[index]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["name"].as_str().unwrap().to_owned(), f["type"].as_str().unwrap().to_owned()))
            .collect()
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    };
    assert_eq!(fields(0), pairs(&[("title", "string"), ("author", "string"), ("date_read", "date")]));
    assert_eq!(fields(1), pairs(&[("meeting_date", "date"), ("host", "string")]));
    assert_eq!(fields(2), pairs(&[("person", "string"), ("snack", "string"), ("meeting", "reference")]));
    assert_eq!(entities[2]["fields"][2]["entity"], "meeting");
    for entity in entities {
        let display = entity["display_field"].as_str().unwrap();
        assert!(
            entity["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == display && f["type"] != "reference")
        );
        assert_eq!(entity["plural"], format!("{}s", entity["name"].as_str().unwrap()));
    }
    let roles: Vec<&str> =
        spec["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(roles, ["organizer", "member"]);
    assert_eq!(
        spec["default_roles"],
        json!({"owner": "organizer", "signed_in": "member", "anonymous": null})
    );
    let allowed = |role: &str, entity: &str| -> Value {
        spec["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["role"] == role && p["entity"] == entity)
            .map_or(Value::Null, |p| p["allow"].clone())
    };
    assert_eq!(allowed("organizer", "book"), json!(["read", "create", "update", "delete"]));
    assert_eq!(allowed("member", "snack_assignment"), json!(["read", "create"]));
    assert_eq!(allowed("member", "book"), json!(["read"]));
    // Pages and actions only for roles whose permissions cover them.
    let pages = spec["pages"].as_array().unwrap();
    assert_eq!(pages.iter().filter(|p| p["kind"] == "home").count(), 1);
    let create_snack =
        pages.iter().find(|p| p["kind"] == "create" && p["entity"] == "snack_assignment").unwrap();
    assert_eq!(create_snack["visible_to"], json!(["organizer", "member"]));
    let create_book = pages.iter().find(|p| p["kind"] == "create" && p["entity"] == "book").unwrap();
    assert_eq!(create_book["visible_to"], json!(["organizer"]));
    let actions = spec["actions"].as_array().unwrap();
    assert!(
        actions
            .iter()
            .any(|a| a["name"] == "add_snack_assignment" && a["roles"] == json!(["organizer", "member"]))
    );
    // Sample data: references name earlier records' keys.
    let samples = spec["sample_data"].as_array().unwrap();
    assert_eq!(samples.len(), 6);
    let snack = samples.iter().find(|s| s["entity"] == "snack_assignment").unwrap();
    let meeting_key = &snack["values"]["meeting"];
    let position = |record: &Value| samples.iter().position(|s| s == record).unwrap();
    let meeting = samples.iter().find(|s| &s["key"] == meeting_key).expect("the referenced record exists");
    assert!(position(meeting) < position(snack));
}

/// A `vibe serve` child process on the test database, killed when dropped.
struct Serve {
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(db: &PgPool) -> Serve {
        let server = std::env::var("DATABASE_URL").expect("DATABASE_URL is set");
        let mut url = url::Url::parse(&server).unwrap();
        url.set_path(db.connect_options().get_database().expect("the test database has a name"));
        let dir = tempfile::tempdir().unwrap();
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let log = std::fs::File::create(dir.path().join("vibe.log")).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_vibe"))
            .arg("serve")
            .env("VIBE_DATABASE_URL", url.to_string())
            .env("VIBE_LISTEN", addr.to_string())
            .env("VIBE_DATA_DIR", dir.path())
            .env_remove("VIBE_PUBLIC_URL")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting vibe");
        Serve { child, dir }
    }

    /// Waits for the process to say it serves (after installing the agents): its log, not a port
    /// probe, which another test's server could answer.
    async fn ready(&mut self) {
        let log = |dir: &tempfile::TempDir| {
            std::fs::read_to_string(dir.path().join("vibe.log")).unwrap_or_default()
        };
        for _ in 0..600 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("vibe exited early ({status}):\n{}", log(&self.dir));
            }
            if log(&self.dir).contains("vibe is serving") {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("vibe did not become ready:\n{}", log(&self.dir));
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn two_servers_starting_together_install_the_agents_once(db: PgPool) {
    let mut a = Serve::start(&db);
    let mut b = Serve::start(&db);
    a.ready().await;
    b.ready().await;
    let versions: Vec<(String, String)> =
        sqlx::query_as("SELECT plugin_name, approval FROM plugin_versions ORDER BY plugin_name")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(
        versions,
        vec![
            ("vibe-build".into(), "approved".into()),
            ("vibe-ideation".into(), "approved".into()),
            ("vibe-spec".into(), "approved".into())
        ]
    );
    assert_eq!(weights(&db, "ideation").await, BTreeMap::from([(IDEATION.to_owned(), 100)]));
    assert_eq!(weights(&db, "spec").await, BTreeMap::from([(SPEC.to_owned(), 100)]));
    assert_eq!(weights(&db, "build").await, BTreeMap::from([(BUILD.to_owned(), 100)]));
    let revisions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM agent_routing_revisions").fetch_one(&db).await.unwrap();
    assert_eq!(revisions, 3);
}
