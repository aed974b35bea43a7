//! The pipeline write path every spec writer shares (an agent turn's output artifacts, an agent's
//! `pipeline.put`, the API): a spec that does not parse or validate is refused with `invalid` and
//! its failing paths and writes nothing; a stored one becomes `ideas.specifications` and is announced.

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::agents::runtime::capabilities::{CapError, pipeline};
use vibe_host::agents::runtime::{ArtifactWrite, ContentType};
use vibe_host::spec;

use super::{book_club, changed};
use crate::support::TestServer;

fn spec_write(content: String, content_type: ContentType) -> ArtifactWrite {
    ArtifactWrite { name: "spec".to_owned(), content_type, content }
}

async fn new_idea(server: &TestServer) -> Uuid {
    let ada = server.signup("ada@example.com").await;
    let idea: Value = ada.post("/api/ideas", json!({"name": "Book club"})).await.json().await.unwrap();
    idea["id"].as_str().unwrap().parse().unwrap()
}

async fn stored(db: &PgPool, idea: Uuid) -> (i64, Option<Value>) {
    let versions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pipeline_artifacts WHERE idea_id = $1 AND name = 'spec'")
            .bind(idea)
            .fetch_one(db)
            .await
            .unwrap();
    let specifications: Option<Value> = sqlx::query_scalar("SELECT specifications FROM ideas WHERE id = $1")
        .bind(idea)
        .fetch_one(db)
        .await
        .unwrap();
    (versions, specifications)
}

#[sqlx::test(migrations = "../migrations")]
async fn an_invalid_spec_is_refused_with_its_paths_and_nothing_is_written(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let idea = new_idea(&server).await;

    let bad = changed("/entities/1/fields/1/entity", Some(json!("film")));
    let write = spec_write(bad.to_string(), ContentType::Json);
    // What the dispatcher checks a turn's output artifacts with, and what `pipeline.put` answers.
    let Err(CapError::Invalid(message)) = pipeline::check(&write) else { panic!("accepted") };
    assert!(message.contains("/entities/1/fields/1/entity"), "{message}");
    let refused = pipeline::write(&db, idea, &write, None, Some("spec@0.1.0"), None).await;
    assert!(
        matches!(&refused, Err(CapError::Invalid(m)) if m.contains("/entities/1/fields/1/entity")),
        "{refused:?}"
    );

    let not_json = spec_write("{\"spec_version\": 1,".to_owned(), ContentType::Json);
    assert!(matches!(
        pipeline::write(&db, idea, &not_json, None, None, None).await,
        Err(CapError::Invalid(_))
    ));
    let as_text = spec_write(book_club().to_string(), ContentType::Text);
    let refused = pipeline::write(&db, idea, &as_text, None, None, None).await;
    assert!(matches!(&refused, Err(CapError::Invalid(m)) if m.contains("must be JSON")), "{refused:?}");

    assert_eq!(stored(&db, idea).await, (0, None));
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE kind = 'spec:updated'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(events, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_valid_spec_becomes_the_ideas_specifications_and_is_announced(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let idea = new_idea(&server).await;
    let example = book_club();

    let write = spec_write(example.to_string(), ContentType::Json);
    assert_eq!(pipeline::write(&db, idea, &write, None, Some("spec@0.1.0"), None).await, Ok(1));
    assert_eq!(stored(&db, idea).await, (1, Some(example.clone())));
    let current = spec::current(&db, idea).await.unwrap().unwrap();
    assert_eq!((current.latest.version, current.confirmed()), (1, false));
    assert_eq!(current.latest.written_by.as_deref(), Some("spec@0.1.0"));

    // Another artifact leaves the spec alone; a stale expected version is a conflict.
    let notes =
        ArtifactWrite { name: "notes".to_owned(), content_type: ContentType::Text, content: "x".into() };
    assert_eq!(pipeline::write(&db, idea, &notes, None, None, None).await, Ok(1));
    let renamed = changed("/app/name", Some(json!("Readers")));
    let write = spec_write(renamed.to_string(), ContentType::Json);
    assert!(matches!(
        pipeline::write(&db, idea, &write, Some(0), None, None).await,
        Err(CapError::Conflict(_))
    ));
    assert_eq!(pipeline::write(&db, idea, &write, Some(1), None, None).await, Ok(2));
    assert_eq!(stored(&db, idea).await, (2, Some(renamed)));

    let events: Vec<Value> = sqlx::query_scalar(
        "SELECT data FROM events WHERE kind = 'spec:updated' AND idea_id = $1 ORDER BY id",
    )
    .bind(idea)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], json!({"version": 1, "confirmed": false, "written_by": "spec@0.1.0"}));
    assert_eq!(events[1]["version"], 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_writers_get_distinct_versions_and_the_latest_wins(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let idea = new_idea(&server).await;
    let mut writers = Vec::new();
    for i in 0..8 {
        let db = db.clone();
        writers.push(tokio::spawn(async move {
            let spec = changed("/app/name", Some(json!(format!("Club {i}"))));
            pipeline::write(&db, idea, &spec_write(spec.to_string(), ContentType::Json), None, None, None)
                .await
        }));
    }
    let mut versions = Vec::new();
    for writer in writers {
        versions.push(writer.await.unwrap().unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=8).collect::<Vec<u32>>());
    let latest: String = sqlx::query_scalar(
        "SELECT content FROM pipeline_artifacts WHERE idea_id = $1 AND name = 'spec' ORDER BY version DESC LIMIT 1",
    )
    .bind(idea)
    .fetch_one(&db)
    .await
    .unwrap();
    let latest: Value = serde_json::from_str(&latest).unwrap();
    assert_eq!(stored(&db, idea).await, (8, Some(latest)));
}
