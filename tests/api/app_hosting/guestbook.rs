//! The SDK's example app, the guestbook (`sdk/examples/guestbook`), deployed as an operator would:
//! `vibe app deploy` with its migrations and settings, then signed and read on both routes.

use reqwest::{Method, StatusCode};
use sqlx::PgPool;
use vibe_test_components::SDK_EXAMPLE_GUESTBOOK;

use super::{answer, eventually, printed, via_host, via_path, vibe};
use crate::support::TestServer;

/// The example's own migrations directory.
const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk/examples/guestbook/migrations");

/// Posts the sign form `body` to `/entries`, on the app's path or on its host.
async fn sign(server: &TestServer, by_host: bool, body: &str) -> reqwest::Response {
    let request = if by_host {
        server
            .anon(Method::POST, "/entries")
            .header("host", format!("guestbook.apps.localhost:{}", server.addr.port()))
    } else {
        server.anon(Method::POST, "/apps/guestbook/entries")
    };
    request
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_guestbook_deployed_with_the_cli_is_signed_and_read_on_both_routes(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    server.signup("owner@example.com").await;
    let settings = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(settings.path(), r#"{"title": "Visitors of the test", "admin_key": "k3y"}"#).unwrap();
    let output = vibe(
        &server,
        &[
            "app",
            "deploy",
            SDK_EXAMPLE_GUESTBOOK,
            "--name",
            "guestbook",
            "--owner",
            "owner@example.com",
            "--migrations",
            MIGRATIONS,
            "--config",
            settings.path().to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "vibe app deploy: {}", printed(&output));
    assert!(printed(&output).contains("deployed guestbook version 1"), "{}", printed(&output));
    let app: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM apps WHERE slug = 'guestbook'").fetch_one(&db).await.unwrap();
    let migrations: Vec<String> =
        sqlx::query_scalar(&format!("SELECT name FROM app_{}._vibe_migrations", app.simple()))
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(migrations, ["0001_entries.sql"]);

    let home = eventually("the guestbook to go live", || async {
        let (status, page) = answer(via_path(&server, Method::GET, "guestbook", "/", "").await).await;
        (status == StatusCode::OK).then_some(page)
    })
    .await;
    assert!(home.contains("<h1>Visitors of the test</h1>"), "the title setting reaches the app: {home}");
    assert!(home.contains("action=\"/apps/guestbook/entries\""), "links stay under the app's path: {home}");

    // Signing through the form on the platform's address: 303 to the new entry, which shows it.
    let response = sign(&server, false, "name=Ada+%3Cb%3E&message=Hello+from+the+path&rating=5").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/apps/guestbook/entries/1");
    let (status, entry) = answer(server.anon(Method::GET, &location).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(entry.contains("<h1>Ada &lt;b&gt;</h1>") && entry.contains("Hello from the path"), "{entry}");
    assert!(entry.contains("Rating: 5 of 5"), "{entry}");

    // And on its own host.
    let response = sign(&server, true, "name=Grace&message=Hello+from+the+host").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/entries/2", "no path prefix on the app's host");
    let (status, entry) = answer(via_host(&server, Method::GET, "guestbook", "/entries/2", "").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(entry.contains("Hello from the host"), "{entry}");
    for response in [
        via_host(&server, Method::GET, "guestbook", "/", "").await,
        via_path(&server, Method::GET, "guestbook", "/", "").await,
    ] {
        let (status, book) = answer(response).await;
        assert_eq!(status, StatusCode::OK);
        assert!(book.contains("Hello from the path") && book.contains("Hello from the host"), "{book}");
    }

    // An invalid form gets the form back with the reasons, and writes nothing.
    let response = sign(&server, false, "name=&message=x&rating=9").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("is required") && page.contains("must be at most 5"), "{page}");
    let rows: Vec<(String, String)> =
        sqlx::query_as(&format!("SELECT name, message FROM app_{}.entries ORDER BY id", app.simple()))
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            ("Ada <b>".to_owned(), "Hello from the path".to_owned()),
            ("Grace".to_owned(), "Hello from the host".to_owned())
        ],
        "the rows are in the app's own table, stored as typed"
    );
    // Three home pages were served: the visit counter is in the app's key-value store.
    let stats: serde_json::Value =
        via_path(&server, Method::GET, "guestbook", "/api/stats", "").await.json().await.unwrap();
    assert_eq!(stats, serde_json::json!({"visits": 3, "entries": 2}), "{stats}");
}
