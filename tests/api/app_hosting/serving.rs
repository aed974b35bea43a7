//! Deploying over the API and serving: both routes, the Vibe Wrapper, analytics, logs, metrics,
//! migrations and settings, and refusals at deploy.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vibe_test_components::{CAPABILITIES, CHATTY, HELLO_STD, SQL_CONSOLE, WRONG_WORLD};

use super::{answer, component, deploy, deploy_form, deployed, eventually, slug_of, via_host, via_path};
use crate::authz::World;
use crate::support::error_code;

#[sqlx::test(migrations = "../migrations")]
async fn a_standard_component_deployed_over_the_api_serves_on_both_routes(db: PgPool) {
    let world = World::new(db.clone()).await;
    let app = world.scene("private").await.app;
    let slug = slug_of(&db, app).await;
    let server = &world.server;

    let version = deployed(&world.owner, app, component(HELLO_STD)).await;
    assert_eq!(version["number"], 1);
    assert_eq!(version["live"], true);
    assert_eq!(version["component_digest"].as_str().unwrap().len(), 64);
    let (status, live): (String, Option<uuid::Uuid>) =
        sqlx::query_as("SELECT status, live_version_id FROM apps WHERE id = $1")
            .bind(app)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(status, "deployed");
    assert_eq!(live.map(|id| id.to_string()).as_deref(), version["id"].as_str());

    let response = via_path(server, Method::GET, &slug, "/", "").await;
    assert!(response.headers().contains_key("x-request-id"));
    assert!(response.headers()["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    assert_eq!(answer(response).await, (StatusCode::OK, "hello from /\n".to_owned()));
    let (status, text) = answer(via_path(server, Method::GET, &slug, "/deep/path?q=1", "").await).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, "hello from /deep/path\n"),
        "the app sees its own path"
    );
    let response = via_host(server, Method::GET, &slug, "/on-its-host", "").await;
    assert!(
        !response.headers().contains_key("content-security-policy"),
        "an app's own host is its own origin"
    );
    assert_eq!(answer(response).await, (StatusCode::OK, "hello from /on-its-host\n".to_owned()));
    // The platform's API does not answer on an app's host.
    let (status, _) = answer(via_host(server, Method::GET, &slug, "/api/users/me", "").await).await;
    assert_eq!(status, StatusCode::OK, "the app, not the API, answers /api/... on its host");

    let response = server.anon(Method::GET, &format!("/apps/{slug}?x=1")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(response.headers()["location"], format!("/apps/{slug}/?x=1"));
    for response in [
        via_path(server, Method::GET, "no-such-app", "/", "").await,
        via_host(server, Method::GET, "no-such-app", "/", "").await,
    ] {
        let (status, page) = answer(response).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(page.contains("No such app"), "{page}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_wrapper_goes_into_html_pages_and_can_be_switched_off(db: PgPool) {
    let world = World::new(db.clone()).await;
    let app = world.scene("private").await.app;
    let slug = slug_of(&db, app).await;
    let server = &world.server;
    deployed(&world.owner, app, component(SQL_CONSOLE)).await;

    for response in [
        via_path(server, Method::GET, &slug, "/page", "").await,
        via_host(server, Method::GET, &slug, "/page", "").await,
    ] {
        let (status, page) = answer(response).await;
        assert_eq!(status, StatusCode::OK);
        let script =
            page.find("<script data-vibe-wrapper>").unwrap_or_else(|| panic!("no wrapper in {page}"));
        assert!(script < page.rfind("</body>").unwrap(), "the script goes inside the body: {page}");
        assert!(page.contains("Built with Vibe") && page.contains("_vibe/beacon"));
    }
    let (_, plain) = answer(via_path(server, Method::GET, &slug, "/", "").await).await;
    assert_eq!(plain, "sql console\n", "text responses are left alone");

    let beacon = json!({"path": "/page", "referrer": "https://example.com/", "load_ms": 42.5}).to_string();
    let response = via_path(server, Method::POST, &slug, "/_vibe/beacon", &beacon).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (path, load_ms): (String, Option<i32>) = eventually("the page view", || async {
        sqlx::query_as("SELECT path, load_ms FROM app_page_views WHERE app_id = $1")
            .bind(app)
            .fetch_optional(&db)
            .await
            .unwrap()
    })
    .await;
    assert_eq!((path.as_str(), load_ms), ("/page", Some(42)));

    let response =
        world.owner.patch(&format!("/api/apps/{app}"), json!({"features_enabled": {"wrapper": false}})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (_, page) = answer(via_path(server, Method::GET, &slug, "/page", "").await).await;
    assert!(!page.contains("data-vibe-wrapper"), "switched off: {page}");
    let (status, text) = answer(via_path(server, Method::POST, &slug, "/_vibe/beacon", &beacon).await).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "sql console\n"), "the path is the app's again");
}

#[sqlx::test(migrations = "../migrations")]
async fn requests_are_recorded_and_summed_up(db: PgPool) {
    let world = World::new(db.clone()).await;
    let app = world.scene("private").await.app;
    let slug = slug_of(&db, app).await;
    deployed(&world.owner, app, component(CHATTY)).await;
    for _ in 0..5 {
        let (status, _) =
            answer(via_path(&world.server, Method::GET, &slug, "/talk?secret=1", "").await).await;
        assert_eq!(status, StatusCode::OK);
    }

    let rows: Vec<(String, String, i16, i64)> = eventually("five analytics rows", || async {
        let rows: Vec<(String, String, i16, i64)> =
            sqlx::query_as("SELECT method, path, status, duration_us FROM app_requests WHERE app_id = $1")
                .bind(app)
                .fetch_all(&db)
                .await
                .unwrap();
        (rows.len() == 5).then_some(rows)
    })
    .await;
    for (method, path, status, duration) in &rows {
        assert_eq!((method.as_str(), path.as_str(), *status), ("GET", "/talk", 200), "no query is stored");
        assert!(*duration > 0);
    }

    let metrics: Value = world.viewer.get(&format!("/api/apps/{app}/metrics")).await.json().await.unwrap();
    assert_eq!(metrics["requests"], 5, "{metrics}");
    assert_eq!(metrics["errors"], 0);
    assert!(
        metrics["p50_ms"].as_f64().unwrap() > 0.0
            && metrics["p99_ms"].as_f64().unwrap() >= metrics["p50_ms"].as_f64().unwrap()
    );
    let series = metrics["series"].as_array().expect("a series");
    assert_eq!(series.len(), 24, "{metrics}");
    let counts: Vec<(i64, i64)> =
        series.iter().map(|b| (b["requests"].as_i64().unwrap(), b["errors"].as_i64().unwrap())).collect();
    assert_eq!(counts.last(), Some(&(5, 0)), "the five requests are in the newest slice: {metrics}");
    assert_eq!(counts.iter().map(|c| c.0).sum::<i64>(), 5);

    // Older traffic lands in its own slice: 3.5 hours ago is the 21st of 24 hourly slices, and a 5xx there
    // counts as an error of that slice only.
    sqlx::query(
        "INSERT INTO app_requests (app_id, request_id, method, path, status, duration_us, at) \
         VALUES ($1, 'old-ok', 'GET', '/', 200, 10, now() - interval '3.5 hours'), \
                ($1, 'old-bad', 'GET', '/', 500, 10, now() - interval '3.5 hours')",
    )
    .bind(app)
    .execute(&db)
    .await
    .unwrap();
    let metrics: Value = world.viewer.get(&format!("/api/apps/{app}/metrics")).await.json().await.unwrap();
    let series = metrics["series"].as_array().unwrap();
    assert_eq!(
        (series[20]["requests"].clone(), series[20]["errors"].clone()),
        (json!(2), json!(1)),
        "{metrics}"
    );
    assert_eq!(metrics["errors"], 1);
    let starts: Vec<OffsetDateTime> = series
        .iter()
        .map(|b| OffsetDateTime::parse(b["from"].as_str().unwrap(), &Rfc3339).unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[1] - w[0] == time::Duration::HOUR), "hourly slices: {metrics}");

    let response = world.owner.get(&format!("/api/apps/{app}/metrics?hours=0")).await;
    assert_eq!(error_code(response).await, "validation_failed");

    let logs: Vec<Value> = eventually("the app's output in its log", || async {
        let logs: Vec<Value> =
            world.owner.get(&format!("/api/apps/{app}/logs?source=stdout")).await.json().await.unwrap();
        (logs.len() >= 10).then_some(logs)
    })
    .await;
    assert!(logs.iter().all(|l| l["source"] == "stdout" && !l["request_id"].as_str().unwrap().is_empty()));
    assert!(logs.iter().any(|l| l["message"] == "second line on stdout"), "{logs:?}");
    let all: Vec<Value> =
        world.owner.get(&format!("/api/apps/{app}/logs?limit=1000")).await.json().await.unwrap();
    assert!(all.iter().any(|l| l["source"] == "stderr" && l["message"] == "a line on stderr"));
    assert!(all.iter().any(
        |l| l["source"] == "platform" && l["message"].as_str().unwrap().starts_with("version 1 deployed")
    ));
    let ids: Vec<i64> = all.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    let page: Vec<Value> = world
        .owner
        .get(&format!("/api/apps/{app}/logs?limit=2&before={}", ids[1]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.iter().map(|l| l["id"].as_i64().unwrap()).collect::<Vec<_>>(), ids[2..4]);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_invalid_component_is_refused_with_the_reason_and_the_live_version_stays(db: PgPool) {
    let world = World::new(db.clone()).await;
    let app = world.scene("private").await.app;
    let slug = slug_of(&db, app).await;
    deployed(&world.owner, app, component(HELLO_STD)).await;

    for (bytes, reason) in [
        (b"#!/bin/sh\necho not wasm\n".to_vec(), "not a WebAssembly file"),
        (b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module"),
        (component(WRONG_WORLD), "vibe:app world"),
    ] {
        let response = deploy(&world.owner, app, bytes).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], "component", "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(reason), "{reason}: {body}");
    }
    let response = world
        .owner
        .request(Method::POST, &format!("/api/apps/{app}/versions"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(response).await, "bad_request", "a body that is no component upload");

    let versions: Value = world.owner.get(&format!("/api/apps/{app}/versions")).await.json().await.unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");
    assert_eq!(versions[0]["live"], true);
    let (status, text) = answer(via_path(&world.server, Method::GET, &slug, "/", "").await).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "hello from /\n"), "still serving version 1");
}

#[sqlx::test(migrations = "../migrations")]
async fn migrations_run_as_the_app_in_one_transaction_and_settings_reach_it(db: PgPool) {
    let world = World::new(db.clone()).await;
    let app = world.scene("private").await.app;
    let slug = slug_of(&db, app).await;
    let console = component(SQL_CONSOLE);
    let first =
        b"CREATE TABLE items (name text NOT NULL); INSERT INTO items VALUES ('a;b'), ('c');".as_slice();
    let response = deploy_form(
        &world.owner,
        app,
        &[
            ("component", Some("app.wasm"), &console),
            ("migrations", Some("001_items.sql"), first),
            ("config", None, br#"{"greeting": "hi", "api_key": "s3cret"}"#),
        ],
    )
    .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["migrations"], json!(["001_items.sql"]), "{body}");
    assert_eq!(body["config_names"], json!(["api_key", "greeting"]), "names only, never values: {body}");
    let query = |sql: &'static str| via_path(&world.server, Method::POST, &slug, "/query", sql);
    assert_eq!(answer(query("SELECT name FROM items ORDER BY name").await).await.1, "a;b\nc\n");
    let owner: String = sqlx::query_scalar(&format!(
        "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'app_{}' AND tablename = 'items'",
        app.simple()
    ))
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(owner, format!("app_{}", app.simple()), "the migration ran as the app's role");

    // A version whose second migration fails applies nothing, and the live version stays.
    let half = b"CREATE TABLE half (i int); SELECT no_such_function();".as_slice();
    let response = deploy_form(
        &world.owner,
        app,
        &[
            ("component", Some("app.wasm"), &console),
            ("migrations", Some("001_items.sql"), first),
            ("migrations", Some("002_half.sql"), half),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("002_half.sql") && message.contains("no_such_function"), "{body}");
    let (status, text) = answer(query("SELECT count(*) FROM half").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the half migration left nothing: {text}");

    // Editing an applied migration is refused; so is one that tries to commit half-way.
    let edited = b"CREATE TABLE items (name text);".as_slice();
    let response = deploy_form(
        &world.owner,
        app,
        &[("component", Some("a.wasm"), &console), ("migrations", Some("001_items.sql"), edited)],
    )
    .await;
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("changed after it was applied"), "{body}");
    let committing = b"CREATE TABLE early (i int); COMMIT; CREATE TABLE late (i int);".as_slice();
    let response = deploy_form(
        &world.owner,
        app,
        &[("component", Some("a.wasm"), &console), ("migrations", Some("003_commit.sql"), committing)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer(query("SELECT count(*) FROM early").await).await.0, StatusCode::BAD_REQUEST);

    let versions: Value = world.owner.get(&format!("/api/apps/{app}/versions")).await.json().await.unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 1, "refused versions are not recorded: {versions}");
    let response = deploy_form(&world.owner, app, &[("config", None, b"{}")]).await;
    assert_eq!(error_code(response).await, "validation_failed", "a form without a component");

    // The settings reach the app through vibe:app/config, and its database answers it.
    let capabilities = component(CAPABILITIES);
    let response = deploy_form(
        &world.owner,
        app,
        &[("component", Some("app.wasm"), &capabilities), ("config", None, br#"{"greeting": "hi"}"#)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, report) = answer(via_path(&world.server, Method::GET, &slug, "/", "").await).await;
    assert!(report.contains("greeting: hi") && report.contains("db rows: 1"), "{report}");
}

#[sqlx::test(migrations = "../migrations")]
async fn analytics_and_logs_are_kept_thirty_days(db: PgPool) {
    let owner: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO users (id, email) VALUES (gen_random_uuid(), 'o@example.com') RETURNING id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let app = super::new_app(&db, owner, "old-timer").await;
    for days in [31, 29] {
        let at = format!("now() - interval '{days} days'");
        sqlx::query(&format!(
            "INSERT INTO app_requests (app_id, request_id, method, path, status, duration_us, at) \
             VALUES ($1, 'r', 'GET', '/', 200, 1, {at})"
        ))
        .bind(app)
        .execute(&db)
        .await
        .unwrap();
        sqlx::query(&format!("INSERT INTO app_page_views (app_id, path, at) VALUES ($1, '/', {at})"))
            .bind(app)
            .execute(&db)
            .await
            .unwrap();
        sqlx::query(&format!(
            "INSERT INTO app_logs (app_id, source, level, message, at) VALUES ($1, 'app', 'info', 'm', {at})"
        ))
        .bind(app)
        .execute(&db)
        .await
        .unwrap();
    }

    let _server = crate::support::TestServer::start(db.clone()).await;
    eventually("rows past 30 days to be deleted", || async {
        let left: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM app_requests) + (SELECT count(*) FROM app_page_views) \
             + (SELECT count(*) FROM app_logs)",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        (left == 3).then_some(())
    })
    .await;
    let oldest: i64 =
        sqlx::query_scalar("SELECT count(*) FROM app_logs WHERE at < now() - interval '30 days'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(oldest, 0, "the 29-day-old rows stay, the 31-day-old ones go");
}
