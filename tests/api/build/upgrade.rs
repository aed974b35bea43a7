//! A spec change becomes a new version of a live app: an added field is a new migration that
//! keeps the rows, and the new version reads and writes the new column.

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use vibe_host::build::codegen::{self, PreviousVersion};
use vibe_host::build::plan::Visitor;

use super::{LiveApp, compile, generated};

#[sqlx::test(migrations = "../migrations")]
async fn adding_a_field_keeps_the_rows(db: PgPool) {
    let (spec, first) = generated("book-club");
    let live = LiveApp::deploy(db.clone(), &spec, &first).await;
    let (status, _) = live
        .send(
            Method::POST,
            "/api/books",
            Visitor::Owner,
            Some(json!({"title": "Kindred", "author": "Octavia E. Butler"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let mut changed = spec.clone();
    let isbn = json!({"name": "isbn", "label": "ISBN", "type": "string", "max_length": 20});
    changed.entities[0].fields.push(serde_json::from_value(isbn).unwrap());
    let previous = PreviousVersion { spec: spec.clone(), migrations: first.migrations() };
    let second = codegen::generate(&changed, Some(&previous)).unwrap();
    let names: Vec<String> = second.migrations().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["0001_initial", "0002_add_books_isbn"]);
    live.upgrade(&second, compile::build(&second).await).await;

    let (status, body) = live.send(Method::GET, "/api/books/4", Visitor::Owner, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("\"title\":\"Kindred\"") && body.contains("\"isbn\":null"),
        "the row is kept: {body}"
    );
    let (status, body) = live
        .send(Method::PATCH, "/api/books/4", Visitor::Owner, Some(json!({"isbn": "978-0807083697"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM app_{}.books", live.id.simple()))
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(count, 4, "three samples and the book added before the upgrade");
}
