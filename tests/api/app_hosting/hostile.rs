//! Hostile apps through HTTP: a runaway app is stopped at its budget while another keeps answering,
//! and an app that runs arbitrary SQL reaches nothing but its own schema.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use vibe_test_components::{BIG_BODY, GROW, HELLO_STD, LOOP, RECURSE, SQL_CONSOLE, STATE, TRAP};

use super::{answer, component, deploy_form, deployed, eventually, new_app, via_host, via_path};
use crate::support::{TestServer, TestUser};

#[sqlx::test(migrations = "../migrations")]
async fn an_infinite_loop_is_stopped_while_another_app_keeps_answering(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let owner = server.signup("owner@example.com").await;
    let spinner = new_app(&db, owner.id, "spinner").await;
    let steady = new_app(&db, owner.id, "steady").await;
    let limits = json!({"hosting_config": {"limits": {"cpu_ms": 300, "deadline_ms": 5000}}});
    assert_eq!(owner.patch(&format!("/api/apps/{spinner}"), limits).await.status(), StatusCode::OK);
    deployed(&owner, spinner, component(LOOP)).await;
    deployed(&owner, steady, component(HELLO_STD)).await;

    let started = Instant::now();
    let spinning = {
        let url = server.url("/apps/spinner/");
        tokio::spawn(async move {
            reqwest::Client::new().get(url).header("x-request-id", "spin-1").send().await.unwrap()
        })
    };
    let mut answered = 0;
    while !spinning.is_finished() {
        let (status, text) = answer(via_path(&server, Method::GET, "steady", "/", "").await).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "hello from /\n"));
        answered += 1;
        assert!(started.elapsed() < Duration::from_secs(30), "the loop was never stopped");
    }
    let response = spinning.await.unwrap();
    assert!(answered > 0, "the other app answered while the loop ran");
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(response.headers()["x-request-id"], "spin-1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "app_cpu_budget_exceeded", "{body}");
    assert_eq!(body["error"]["request_id"], "spin-1", "the runtime's error keeps the request id");

    let entry: Value = eventually("the limit hit in the app's log", || async {
        let logs: Vec<Value> =
            owner.get(&format!("/api/apps/{spinner}/logs?source=runtime")).await.json().await.unwrap();
        logs.into_iter().find(|l| l["request_id"] == "spin-1")
    })
    .await;
    assert!(entry["message"].as_str().unwrap().contains("CPU budget"), "{entry}");
    let failure: Option<String> = eventually("the analytics row", || async {
        sqlx::query_scalar("SELECT failure FROM app_requests WHERE app_id = $1 AND request_id = 'spin-1'")
            .bind(spinner)
            .fetch_optional(&db)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(failure.as_deref(), Some("app_cpu_budget_exceeded"));
    let metrics: Value = owner.get(&format!("/api/apps/{spinner}/metrics")).await.json().await.unwrap();
    assert_eq!((metrics["errors"].clone(), metrics["limit_hits"].clone()), (json!(1), json!(1)), "{metrics}");

    // Nothing of the stopped run lingers: the app's next request gets a fresh instance and the same treatment.
    let (status, _) = answer(via_host(&server, Method::GET, "spinner", "/", "").await).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
}

#[sqlx::test(migrations = "../migrations")]
async fn sql_sent_to_an_app_reaches_nothing_outside_its_schema(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let owner = server.signup("owner@example.com").await;
    let intruder = new_app(&db, owner.id, "intruder").await;
    let victim = new_app(&db, owner.id, "victim").await;
    let limits = json!({"hosting_config": {"limits": {"deadline_ms": 2000}}});
    assert_eq!(owner.patch(&format!("/api/apps/{intruder}"), limits).await.status(), StatusCode::OK);
    let console = component(SQL_CONSOLE);
    deployed(&owner, intruder, console.clone()).await;
    let secrets =
        b"CREATE TABLE secrets (value text); INSERT INTO secrets VALUES ('the victim''s secret');".as_slice();
    let response = deploy_form(
        &owner,
        victim,
        &[("component", Some("a.wasm"), &console), ("migrations", Some("1.sql"), secrets)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let victim_schema = format!("app_{}", victim.simple());

    let server = &server;
    let query = |sql: String| async move {
        answer(via_path(server, Method::POST, "intruder", "/query", &sql).await).await
    };
    let execute = |sql: String| async move {
        answer(via_path(server, Method::POST, "intruder", "/execute", &sql).await).await
    };

    let (_, me) = query("SELECT current_user".into()).await;
    assert_eq!(me.trim(), format!("app_{}", intruder.simple()), "the app's SQL runs as its own role");
    let attempts = [
        format!("SELECT value FROM \"{victim_schema}\".secrets"),
        "SELECT email FROM public.users".to_owned(),
        "SELECT count(*) FROM public.app_versions".to_owned(),
        "SELECT value FROM public.platform_secrets".to_owned(),
        "SELECT pg_read_file('/etc/passwd')".to_owned(),
        "SELECT lo_import('/etc/passwd')".to_owned(),
        "SELECT set_config('role', 'postgres', false)".to_owned(),
    ];
    for sql in &attempts {
        let (status, text) = query(sql.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sql} was not refused: {text}");
        assert!(text.starts_with("error:"), "{sql}: {text}");
        assert!(!text.contains("secret'"), "{sql} leaked: {text}");
    }
    for sql in [
        "SET ROLE postgres",
        "COPY (SELECT 1) TO PROGRAM 'id'",
        "CREATE TABLE public.x (i int)",
        "CREATE TEMP TABLE scratch (i int)",
        "CREATE SCHEMA elsewhere",
        "GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC",
    ] {
        let (status, text) = execute(sql.to_owned()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sql} was not refused: {text}");
    }
    // RESET ROLE leads back to the app's own role, and nowhere else.
    assert_eq!(execute("RESET ROLE".into()).await.0, StatusCode::OK);
    assert_eq!(
        query(format!("SELECT value FROM \"{victim_schema}\".secrets")).await.0,
        StatusCode::BAD_REQUEST
    );

    // Switching its own timeout off does not let a statement outlive the request's deadline.
    let started = Instant::now();
    let (status, _) =
        execute("DO $$ BEGIN SET statement_timeout = 0; PERFORM pg_sleep(600); END $$".into()).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "stopped at the deadline, not after: {:?}",
        started.elapsed()
    );
    let role = format!("app_{}", intruder.simple());
    eventually("the sleeping statement to be ended on the server", || async {
        let sleeping: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND query LIKE '%pg_sleep%' AND state = 'active'",
        )
        .bind(&role)
        .fetch_one(&db)
        .await
        .unwrap();
        (sleeping == 0).then_some(())
    })
    .await;

    let (status, rows) =
        answer(via_host(server, Method::POST, "victim", "/query", "SELECT value FROM secrets").await).await;
    assert_eq!(
        (status, rows.as_str()),
        (StatusCode::OK, "the victim's secret\n"),
        "the other app's rows are intact"
    );
    let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{victim_schema}\".secrets"))
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(count, 1);
    let (status, _) = query("SELECT 1".into()).await;
    assert_eq!(status, StatusCode::OK, "the intruder still works after all that");
}

/// An app of `owner`'s at `slug` with `limits`, serving `path`.
async fn hostile_app(server: &TestServer, owner: &TestUser, slug: &str, limits: Value, path: &str) {
    let app = new_app(&server.db, owner.id, slug).await;
    sqlx::query("UPDATE apps SET hosting_config = $2 WHERE id = $1")
        .bind(app)
        .bind(json!({ "limits": limits }))
        .execute(&server.db)
        .await
        .unwrap();
    deployed(owner, app, component(path)).await;
}

/// The error code of a runtime error answer, checking that it carries the response's request id.
async fn runtime_error(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let header = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["request_id"], header.as_str(), "{body}");
    (status, body["error"]["code"].as_str().unwrap().to_owned())
}

#[sqlx::test(migrations = "../migrations")]
async fn hostile_apps_get_clean_errors_through_http_and_the_next_request_is_served(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let owner = server.signup("owner@example.com").await;
    hostile_app(&server, &owner, "grow", json!({"memory_bytes": 16 << 20}), GROW).await;
    hostile_app(&server, &owner, "recurse", json!({}), RECURSE).await;
    hostile_app(&server, &owner, "trap", json!({}), TRAP).await;
    hostile_app(&server, &owner, "state", json!({}), STATE).await;
    hostile_app(&server, &owner, "big-body", json!({"max_response_body_bytes": 1 << 20}), BIG_BODY).await;
    hostile_app(&server, &owner, "small-bodies", json!({"max_request_body_bytes": 1024}), HELLO_STD).await;

    let cases = [
        ("grow", "/", StatusCode::INTERNAL_SERVER_ERROR, "app_memory_limit_exceeded"),
        ("recurse", "/", StatusCode::INTERNAL_SERVER_ERROR, "app_stack_overflow"),
        ("trap", "/trap", StatusCode::INTERNAL_SERVER_ERROR, "app_trapped"),
        ("big-body", "/", StatusCode::INTERNAL_SERVER_ERROR, "app_response_too_large"),
    ];
    for (slug, path, status, code) in cases {
        let answer = runtime_error(via_path(&server, Method::GET, slug, path, "").await).await;
        assert_eq!(answer, (status, code.to_owned()), "{slug}");
    }
    let huge = "x".repeat(4096);
    let answer = runtime_error(via_host(&server, Method::POST, "small-bodies", "/", &huge).await).await;
    assert_eq!(answer, (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".to_owned()));

    // Nothing lingers: the request after a trap is served, and no request sees another's state.
    assert_eq!(answer_of(&server, "trap", "/ok").await, (StatusCode::OK, "ok".to_owned()));
    assert_eq!(answer_of(&server, "state", "/").await, (StatusCode::OK, "1".to_owned()));
    assert_eq!(answer_of(&server, "state", "/").await, (StatusCode::OK, "1".to_owned()));
    assert_eq!(answer_of(&server, "small-bodies", "/").await, (StatusCode::OK, "hello from /\n".to_owned()));
}

async fn answer_of(server: &TestServer, slug: &str, path: &str) -> (StatusCode, String) {
    answer(via_path(server, Method::GET, slug, path, "").await).await
}

#[sqlx::test(migrations = "../migrations")]
async fn an_app_opening_many_connections_is_held_to_its_share(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let owner = server.signup("owner@example.com").await;
    let greedy = new_app(&db, owner.id, "greedy").await;
    let modest = new_app(&db, owner.id, "modest").await;
    let console = component(SQL_CONSOLE);
    deployed(&owner, greedy, console.clone()).await;
    deployed(&owner, modest, console).await;

    // Twenty requests at once, each holding a connection for a second.
    let mut sleepers = Vec::new();
    for _ in 0..20 {
        let url = server.url("/apps/greedy/query");
        sleepers.push(tokio::spawn(async move {
            reqwest::Client::new().post(url).body("SELECT pg_sleep(1)").send().await.unwrap().status()
        }));
    }
    let role = format!("app_{}", greedy.simple());
    let mut most = 0;
    while !sleepers.iter().all(|s| s.is_finished()) {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE usename = $1")
            .bind(&role)
            .fetch_one(&db)
            .await
            .unwrap();
        most = most.max(open);
        let (status, rows) =
            answer(via_path(&server, Method::POST, "modest", "/query", "SELECT 42").await).await;
        assert_eq!((status, rows.as_str()), (StatusCode::OK, "42\n"), "the other app keeps its database");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(most >= 1, "the greedy app did connect");
    let share = i64::from(vibe_apps_runtime::tenant::TenantSettings::default().connections_per_app);
    assert!(most <= share, "{most} connections: more than one app's share ({share}) in one process");
    for sleeper in sleepers {
        let status = sleeper.await.unwrap();
        assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "answered cleanly: {status}");
    }
}
