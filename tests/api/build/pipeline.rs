//! Issue 6's "done when", over the API alone and offline: three different specs become live apps
//! whose generated tests pass and whose pages work over HTTP; adding a field keeps the rows; a
//! build that cannot succeed leaves the live version serving; rollback works; the code downloads.
//! Real code generation, real cargo builds to wasm32-wasip2, real PostgreSQL, real HTTP.

use std::io::Write;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use vibe_host::jobs::{WorkerConfig, Workers};
use vibe_host::ledger::{EntryKind, NewEntry};

use crate::support::{TestServer, TestUser};

/// A request to the app at `/apps/{slug}{path}` as `user` (signed in through the platform's
/// session cookie, as a browser is), or anonymously.
fn app_request(
    server: &TestServer,
    user: Option<&TestUser>,
    method: Method,
    slug: &str,
    path: &str,
) -> reqwest::RequestBuilder {
    let request = server.anon(method, &format!("/apps/{slug}{path}"));
    match user {
        Some(user) => request.header("cookie", format!("vibe_session={}", user.token)),
        None => request,
    }
}

async fn app_get(
    server: &TestServer,
    user: Option<&TestUser>,
    slug: &str,
    path: &str,
) -> (StatusCode, String) {
    let response = app_request(server, user, Method::GET, slug, path).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The app of `idea` as `GET /api/apps` lists it.
async fn listed_app(user: &TestUser, idea: Uuid) -> Value {
    let apps: Value = user.get("/api/apps").await.json().await.unwrap();
    let list = apps.as_array().or_else(|| apps["apps"].as_array()).expect("a list of apps").clone();
    list.into_iter()
        .find(|app| app["idea_id"] == json!(idea))
        .unwrap_or_else(|| panic!("no app of {idea}: {apps:#}"))
}

fn assert_green(build: &Value) {
    assert_eq!(build["status"], "succeeded", "{build:#}");
    let report = &build["test_report"];
    assert!(report["passed"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(report["failed"], 0, "{report:#}");
    let stages: Vec<&str> =
        build["stages"].as_array().unwrap().iter().map(|stage| stage["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["generating", "compiling", "testing", "deploying", "live"], "{build:#}");
    assert!(build["stages"].as_array().unwrap().iter().all(|stage| stage["status"] == "done"), "{build:#}");
    assert_eq!(build["attempts"][0]["ok"], true, "{build:#}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_book_club_spec_becomes_a_live_app_that_grows_a_field_survives_a_bad_build_and_rolls_back(
    db: sqlx::PgPool,
) {
    let server = TestServer::start(db.clone()).await;
    let _workers = build_workers(&server).await;
    let alice = server.signup("alice@example.com").await;
    let mut spec = crate::specs::example("book-club");
    let idea = idea_with_spec(&alice, "Book club", &spec).await;

    let first = build(&alice, idea).await;
    assert_green(&first);
    assert_eq!(first["version_number"], 1);
    assert_eq!(first["spec"]["app"]["slug"], "book-club", "the build keeps the spec it built");
    assert!(first["credits_charged"].as_i64().unwrap() > 0, "a green build is charged: {first:#}");
    let app = listed_app(&alice, idea).await;
    let slug = app["slug"].as_str().unwrap().to_owned();
    assert_eq!(slug, "book-club");
    assert_eq!(app["live_version"], 1, "{app:#}");
    let app_id = app["id"].as_str().unwrap().to_owned();

    // The pages work over HTTP: the home page explains the app, visitors may read the books
    // (the sample data is there), and the owner may add one through the JSON API.
    let (status, home) = app_get(&server, None, &slug, "/").await;
    assert_eq!(status, StatusCode::OK, "{home}");
    assert!(home.contains("Book Club"), "{home}");
    let (status, books) = app_get(&server, None, &slug, "/books").await;
    assert_eq!(status, StatusCode::OK, "{books}");
    assert!(books.contains("Dune"), "the sample data: {books}");
    let created = app_request(&server, Some(&alice), Method::POST, &slug, "/api/books")
        .json(&json!({"title": "Middlemarch", "author": "George Eliot", "status": "suggested"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED, "{}", created.text().await.unwrap());
    let anonymous = app_request(&server, None, Method::POST, &slug, "/api/books")
        .json(&json!({"title": "Anonymous", "author": "Nobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "visitors may only read books");
    let forged = app_request(&server, None, Method::POST, &slug, "/api/books")
        .header("x-vibe-user-id", alice.id.to_string())
        .header("x-vibe-user-relation", "owner")
        .json(&json!({"title": "Forged", "author": "Mallory"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED, "identity headers from the client are dropped");

    // Version 2 adds a field; the rows stay, and the new field is there to fill in.
    spec["entities"][0]["fields"].as_array_mut().unwrap().push(json!({
        "name": "isbn", "label": "ISBN", "type": "string", "max_length": 20
    }));
    confirm_spec(&alice, idea, &spec).await;
    let second = build(&alice, idea).await;
    assert_green(&second);
    assert_eq!(second["version_number"], 2);
    let listed = app_request(&server, Some(&alice), Method::GET, &slug, "/api/books").send().await.unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let books: Value = listed.json().await.unwrap();
    let books = books.as_array().or_else(|| books["items"].as_array()).expect("a list of books").clone();
    let middlemarch =
        books.iter().find(|book| book["title"] == "Middlemarch").expect("the row survived the new version");
    assert!(middlemarch.get("isbn").is_some_and(Value::is_null), "the new field, empty: {middlemarch}");
    assert!(
        books.iter().any(|book| book["title"] == "Dune"),
        "the sample data is not inserted twice or lost"
    );
    assert_eq!(books.iter().filter(|book| book["title"] == "Dune").count(), 1);

    // A spec the generator cannot apply without losing data (a field changes type): the build
    // fails with the reason, and version 2 stays live and serving.
    let mut broken = spec.clone();
    let notes = broken["entities"][0]["fields"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["name"] == "notes")
        .unwrap();
    *notes = json!({"name": "notes", "label": "Notes", "type": "integer"});
    confirm_spec(&alice, idea, &broken).await;
    let failed = build(&alice, idea).await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert!(failed["error"].as_str().unwrap().contains("notes"), "the reason names the field: {failed:#}");
    assert_eq!(failed["credits_charged"], 0, "a failed build costs nothing");
    assert_eq!(listed_app(&alice, idea).await["live_version"], 2);
    let (status, _) = app_get(&server, None, &slug, "/books").await;
    assert_eq!(status, StatusCode::OK, "the live version still serves");

    // Rollback to version 1: its code runs on today's schema (the added column is ignored).
    let response = alice.post(&format!("/api/apps/{app_id}/rollback"), json!({"version": 1})).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
    assert_eq!(listed_app(&alice, idea).await["live_version"], 1);
    let listed = app_request(&server, Some(&alice), Method::GET, &slug, "/api/books").send().await.unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let body = listed.text().await.unwrap();
    assert!(body.contains("Middlemarch") && !body.contains("isbn"), "version 1's view of the rows: {body}");

    // The code of each version, as a tarball from the app's repository.
    for (query, expect_isbn) in [("?version=1", false), ("?version=2", true)] {
        let response = alice.get(&format!("/api/apps/{app_id}/source{query}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = response.bytes().await.unwrap();
        let listing = untar(&bytes);
        assert!(listing.iter().any(|path| path.ends_with("src/lib.rs")), "{listing:?}");
        assert!(listing.iter().any(|path| path.ends_with(".sql")), "{listing:?}");
        let migrations = listing.iter().filter(|path| path.ends_with(".sql")).count();
        assert_eq!(migrations > 1, expect_isbn, "version 2 adds a migration: {listing:?}");
    }
    // After the rollback, a new version builds on the schema as version 2 left it.
    spec["entities"][0]["fields"].as_array_mut().unwrap().push(json!({
        "name": "year", "label": "Year", "type": "integer", "min": 0, "max": 3000
    }));
    confirm_spec(&alice, idea, &spec).await;
    let third = build(&alice, idea).await;
    assert_green(&third);
    assert_eq!(third["version_number"], 3);
    let listed = app_request(&server, Some(&alice), Method::GET, &slug, "/api/books").send().await.unwrap();
    let body = listed.text().await.unwrap();
    assert!(body.contains("Middlemarch") && body.contains("isbn") && body.contains("year"), "{body}");

    let response = alice.get(&format!("/api/apps/{app_id}/source?version=9")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let bob = server.signup("bob@example.com").await;
    assert_eq!(bob.get(&format!("/api/apps/{app_id}/source")).await.status(), StatusCode::NOT_FOUND);
}

/// The paths in a `.tar.gz`, read by the system's `tar`.
fn untar(bytes: &[u8]) -> Vec<String> {
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip");
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    let output = std::process::Command::new("tar").arg("-tzf").arg(file.path()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(str::to_owned).collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_room_booking_app_and_a_crm_with_roles_become_live_apps(db: sqlx::PgPool) {
    let server = TestServer::start(db.clone()).await;
    let _workers = build_workers(&server).await;
    let owner = server.signup("owner@example.com").await;
    let stranger = server.signup("stranger@example.com").await;

    let rooms = crate::specs::example("room-booking");
    let idea = idea_with_spec(&owner, "Rooms", &rooms).await;
    assert_green(&build(&owner, idea).await);
    let slug = listed_app(&owner, idea).await["slug"].as_str().unwrap().to_owned();
    let (status, page) = app_get(&server, Some(&owner), &slug, "/").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for entity in rooms["entities"].as_array().unwrap() {
        let plural = entity["plural"].as_str().unwrap();
        let (status, page) = app_get(&server, Some(&owner), &slug, &format!("/{plural}")).await;
        assert_eq!(status, StatusCode::OK, "/{plural}: {page}");
        let (status, page) = app_get(&server, Some(&owner), &slug, &format!("/{plural}/new")).await;
        assert_eq!(status, StatusCode::OK, "/{plural}/new: {page}");
    }

    let crm = crate::specs::example("crm");
    let idea = idea_with_spec(&owner, "CRM", &crm).await;
    assert_green(&build(&owner, idea).await);
    let slug = listed_app(&owner, idea).await["slug"].as_str().unwrap().to_owned();
    let (status, _) = app_get(&server, None, &slug, "/api/companies").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the CRM is for signed-in people only");
    let (status, page) = app_get(&server, Some(&owner), &slug, "/companies").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // Someone signed in with the default role may not do what only the owner's role may.
    let deleted = app_request(&server, Some(&stranger), Method::DELETE, &slug, "/api/companies/1")
        .send()
        .await
        .unwrap();
    assert!(
        matches!(deleted.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{}",
        deleted.status()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn builds_are_refused_without_a_confirmed_spec_twice_at_once_or_without_credits(db: sqlx::PgPool) {
    let server = TestServer::start_with(db.clone(), |config| config.signup_credits = 0).await;
    let alice = server.signup("alice@example.com").await;
    let response = alice.post("/api/ideas", json!({ "name": "Unspecified" })).await;
    let idea: Uuid = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().parse().unwrap();
    let response = alice.post(&format!("/api/ideas/{idea}/build"), json!({})).await;
    assert_eq!(response.status(), StatusCode::CONFLICT, "no confirmed spec yet");

    let idea = idea_with_spec(&alice, "Book club", &crate::specs::example("book-club")).await;
    let response = alice.post(&format!("/api/ideas/{idea}/build"), json!({})).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED, "no credits");
    let builds: i64 = sqlx::query_scalar("SELECT count(*) FROM builds").fetch_one(&db).await.unwrap();
    assert_eq!(builds, 0, "nothing half-started");

    // With credits granted, a second request while the first build is queued or running is refused.
    let grant = NewEntry {
        user_id: alice.id,
        kind: EntryKind::Grant,
        amount: 100,
        reason: "test grant".to_owned(),
        reference: None,
        idempotency_key: "test-grant".to_owned(),
    };
    server.state.ledger.post(&grant).await.unwrap();
    let first = alice.post(&format!("/api/ideas/{idea}/build"), json!({})).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let second = alice.post(&format!("/api/ideas/{idea}/build"), json!({})).await;
    assert_eq!(second.status(), StatusCode::CONFLICT, "one build of an idea at a time");
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM credit_reservations WHERE status = 'held'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(held, 1, "the refused build holds no credits");
    let bob = server.signup("bob@example.com").await;
    let response = bob.post(&format!("/api/ideas/{idea}/build"), json!({})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "only people who see the idea");
}

/// Job workers running builds (and turns) for `server`.
pub async fn build_workers(server: &TestServer) -> Workers {
    let mut handlers = vibe_host::conversation::handlers(&server.state);
    handlers.extend(vibe_host::build::pipeline::handlers(&server.state));
    let config = WorkerConfig {
        concurrency: 2,
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(200),
        ..WorkerConfig::default()
    };
    Workers::start(server.db.clone(), handlers, config).await.unwrap()
}

/// An idea of `user` whose latest spec is `spec`, confirmed.
pub async fn idea_with_spec(user: &TestUser, name: &str, spec: &Value) -> Uuid {
    let response = user.post("/api/ideas", json!({ "name": name })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let idea: Uuid = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().parse().unwrap();
    confirm_spec(user, idea, spec).await;
    idea
}

/// Stores `spec` as the idea's next spec version and confirms it.
pub async fn confirm_spec(user: &TestUser, idea: Uuid, spec: &Value) {
    let response = user.put(&format!("/api/ideas/{idea}/spec"), json!({ "spec": spec })).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
    let response = user.post(&format!("/api/ideas/{idea}/spec/confirm"), json!({})).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
}

/// Starts a build of the idea and waits for it to end; returns the build's report.
pub async fn build(user: &TestUser, idea: Uuid) -> Value {
    let response = user.post(&format!("/api/ideas/{idea}/build"), json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{}", response.text().await.unwrap());
    let build_id = response.json::<Value>().await.unwrap()["build_id"].as_str().unwrap().to_owned();
    wait_for_build(user, &build_id).await
}

/// Polls build `build_id` until it succeeded or failed (builds compile real code: minutes when cold).
pub async fn wait_for_build(user: &TestUser, build_id: &str) -> Value {
    let started = Instant::now();
    loop {
        let response = user.get(&format!("/api/builds/{build_id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let build: Value = response.json().await.unwrap();
        if matches!(build["status"].as_str(), Some("succeeded" | "failed")) {
            return build;
        }
        assert!(started.elapsed() < Duration::from_secs(900), "the build never ended: {build:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_built_app_that_starts_failing_its_health_check_notifies_its_owner_once(db: sqlx::PgPool) {
    use vibe_host::apps::health;

    let server = TestServer::start(db.clone()).await;
    let _workers = build_workers(&server).await;
    let alice = server.signup("alice@example.com").await;
    let idea = idea_with_spec(&alice, "Rooms", &crate::specs::example("room-booking")).await;
    assert_green(&build(&alice, idea).await);
    let app_id: Uuid = listed_app(&alice, idea).await["id"].as_str().unwrap().parse().unwrap();
    let notifications = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM events WHERE kind = 'notification' AND user_id = $1 AND data->>'kind' = 'app_health'",
        )
        .bind(alice.id)
        .fetch_one(&db)
        .await
        .unwrap()
    };

    assert_eq!(health::check_all(&server.state).await, 1);
    assert_eq!(listed_app(&alice, idea).await["health"], "healthy");
    assert_eq!(notifications().await, 0, "a new app being healthy is no news");

    // The app's database refuses it: its role may no longer log in, its open connections are gone.
    let role = vibe_apps_runtime::tenant::role_name(app_id);
    sqlx::query(&format!("ALTER ROLE {role} NOLOGIN")).execute(&db).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1")
        .bind(&role)
        .execute(&db)
        .await
        .unwrap();
    for _ in 0..2 {
        health::check_all(&server.state).await;
    }
    assert_eq!(listed_app(&alice, idea).await["health"], "failing");
    assert_eq!(notifications().await, 1, "told once, however many checks fail");

    sqlx::query(&format!("ALTER ROLE {role} LOGIN")).execute(&db).await.unwrap();
    health::check_all(&server.state).await;
    assert_eq!(listed_app(&alice, idea).await["health"], "healthy");
    assert_eq!(notifications().await, 2, "and told when it recovers");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_owner_opens_their_app_on_its_own_host_signed_in_and_a_forged_ticket_is_refused(
    db: sqlx::PgPool,
) {
    let server = TestServer::start(db.clone()).await;
    let _workers = build_workers(&server).await;
    let alice = server.signup("alice@example.com").await;
    let idea = idea_with_spec(&alice, "Book club", &crate::specs::example("book-club")).await;
    assert_green(&build(&alice, idea).await);
    let app = listed_app(&alice, idea).await;
    let (app_id, slug) = (app["id"].as_str().unwrap().to_owned(), app["slug"].as_str().unwrap().to_owned());
    let host = format!("{slug}.apps.localhost");
    let on_host = |method: Method, path: &str| server.anon(method, path).header("host", &host);

    let opened = alice.get(&format!("/api/apps/{app_id}/open")).await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    let location = opened.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("http://{host}:")), "{location}");
    let entry = location.split_once(&host).unwrap().1;
    let entry = &entry[entry.find('/').unwrap()..];
    assert!(entry.starts_with("/_vibe/enter?ticket="), "{entry}");

    // Without the cookie the app's host knows nobody: visitors may only read books.
    let anonymous =
        on_host(Method::POST, "/api/books").json(&json!({"title": "T", "author": "A"})).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let entered = on_host(Method::GET, entry).send().await.unwrap();
    assert_eq!(entered.status(), StatusCode::SEE_OTHER);
    let cookie = entered.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("vibe_app_session=") && cookie.contains("HttpOnly"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let created = on_host(Method::POST, "/api/books")
        .header("cookie", &session)
        .json(&json!({"title": "Middlemarch", "author": "George Eliot", "status": "suggested"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED, "the owner, on the app's own host");

    // The ticket and the cookie are for this app's host only, and neither is a platform session.
    let platform = server
        .anon(Method::GET, "/api/users/me")
        .header("cookie", format!("vibe_session={}", &session["vibe_app_session=".len()..]))
        .send()
        .await
        .unwrap();
    assert_eq!(platform.status(), StatusCode::UNAUTHORIZED);
    let forged = on_host(Method::GET, "/_vibe/enter?ticket=eyJhbGciOiJIUzI1NiJ9.e30.x").send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let stranger = server.signup("mallory@example.com").await;
    let theirs = stranger.get(&format!("/api/apps/{app_id}/open")).await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND, "only people who may see the app");

    // Logging out ends the app host's session too.
    let logout = alice.post("/api/auth/logout", json!({})).await;
    assert!(logout.status().is_success(), "{}", logout.status());
    let after = on_host(Method::POST, "/api/books")
        .header("cookie", &session)
        .json(&json!({"title": "After", "author": "Logout"}))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}
