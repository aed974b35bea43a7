//! Metering: agent calls, builds and app requests charged with references and summarised per session,
//! build and app; the spike pause; the app grace period; the operator view and the CLI grant.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::ledger::LedgerError;
use vibe_host::ledger::grace::{self, AppCharge};

use super::{balance, set_balance};
use crate::support::{TestServer, error_code};

async fn make_operator(db: &PgPool, id: Uuid) {
    sqlx::query("UPDATE users SET role = 'operator' WHERE id = $1").bind(id).execute(db).await.unwrap();
}

async fn insert_app(db: &PgPool, owner: Uuid, slug: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO apps (id, user_id, name, slug) VALUES ($1, $2, $3, $3)")
        .bind(id)
        .bind(owner)
        .bind(slug)
        .execute(db)
        .await
        .unwrap();
    id
}

#[sqlx::test(migrations = "../migrations")]
async fn usage_shows_per_session_build_and_app(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let ledger = &server.state.ledger;
    let session = Uuid::now_v7();
    for call in ["c1", "c2", "c3"] {
        ledger.charge_agent_call(ada.id, session, call, 0).await.unwrap();
    }
    ledger.charge_agent_call(ada.id, session, "c3", 0).await.unwrap();
    let build = Uuid::now_v7();
    let hold = ledger.reserve_build(ada.id, build, None).await.unwrap();
    ledger.settle(hold.id, ledger.build_price()).await.unwrap();
    let app = insert_app(&db, ada.id, "shop").await;
    let charge = ledger.charge_app_requests(None, app, 2500, "window-1").await.unwrap();
    assert!(matches!(charge, AppCharge::Charged { .. }), "{charge:?}");
    assert_eq!(ledger.charge_app_requests(None, app, 0, "window-2").await.unwrap(), AppCharge::Free);

    let credits: Value = ada.get("/api/credits").await.json().await.unwrap();
    assert_eq!(credits["balance"], 100 - 3 - 5 - 3, "{credits}");
    assert_eq!(
        credits["usage"]["sessions"],
        json!([{"id": session.to_string(), "credits": 3, "entries": 3, "last_at": credits["usage"]["sessions"][0]["last_at"]}])
    );
    assert_eq!(credits["usage"]["builds"][0]["id"], build.to_string());
    assert_eq!(credits["usage"]["builds"][0]["credits"], 5);
    assert_eq!(credits["usage"]["apps"][0]["id"], app.to_string());
    assert_eq!(credits["usage"]["apps"][0]["credits"], 3);

    // The operator view shows the same; others may not look.
    let bob = server.signup("bob@example.com").await;
    let path = format!("/api/credits/users/{}", ada.id);
    assert_eq!(error_code(bob.get(&path).await).await, "forbidden");
    make_operator(&db, bob.id).await;
    let seen: Value = bob.get(&path).await.json().await.unwrap();
    assert_eq!(seen["balance"], credits["balance"]);
    assert_eq!(seen["ledger"], credits["ledger"]);
    assert_eq!(
        bob.get(&format!("/api/credits/users/{}", Uuid::now_v7())).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_build_the_user_cannot_pay_is_refused_before_it_starts(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    set_balance(&db, ada.id, 3).await;
    let refused = server.state.ledger.reserve_build(ada.id, Uuid::now_v7(), None).await.unwrap_err();
    assert!(matches!(refused, LedgerError::Insufficient { available: 3, needed: 5 }), "{refused:?}");
    let response = axum::response::IntoResponse::into_response(vibe_host::error::ApiError::from(refused));
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value =
        serde_json::from_slice(&axum::body::to_bytes(response.into_body(), 10_000).await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "insufficient_credits");
    let notification: Value = sqlx::query_scalar(
        "SELECT data FROM events WHERE kind = 'notification' AND user_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(ada.id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(notification["kind"], "insufficient_credits");
    assert!(notification["message"].as_str().unwrap().contains("out of credits"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_consumption_spike_pauses_spending_until_an_operator_lifts_it(db: PgPool) {
    let server = TestServer::start_with(db.clone(), |config| {
        config.credits.spike_credits = 10;
        config.credits.spike_minutes = 5;
        config.credits.price_agent_call = 4;
    })
    .await;
    let ada = server.signup("ada@example.com").await;
    let olga = server.signup("olga@example.com").await;
    make_operator(&db, olga.id).await;
    let ledger = &server.state.ledger;
    let session = Uuid::now_v7();
    for call in ["c1", "c2", "c3"] {
        ledger.charge_agent_call(ada.id, session, call, 0).await.unwrap();
    }
    // 12 credits within the window > 10: the third spend went through and started the pause.
    let paused = ledger.charge_agent_call(ada.id, session, "c4", 0).await.unwrap_err();
    assert!(matches!(paused, LedgerError::SpendingPaused { .. }), "{paused:?}");
    let response = axum::response::IntoResponse::into_response(vibe_host::error::ApiError::from(paused));
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(matches!(
        ledger.reserve_build(ada.id, Uuid::now_v7(), None).await,
        Err(LedgerError::SpendingPaused { .. })
    ));
    assert_eq!(balance(&db, ada.id).await, 88);
    let credits: Value = ada.get("/api/credits").await.json().await.unwrap();
    assert!(credits["spending_paused"]["until"].is_string(), "{credits}");

    for (user, who) in [(ada.id, "user"), (olga.id, "operator")] {
        let kinds: Vec<String> = sqlx::query_scalar(
            "SELECT data->>'kind' FROM events WHERE kind = 'notification' AND user_id = $1",
        )
        .bind(user)
        .fetch_all(&db)
        .await
        .unwrap();
        assert!(kinds.contains(&"credits_spike".to_owned()), "the {who} is told: {kinds:?}");
    }

    // Only operators lift it.
    let path = format!("/api/credits/users/{}/resume", ada.id);
    assert_eq!(ada.request(Method::POST, &path).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(olga.request(Method::POST, &path).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(olga.request(Method::POST, &path).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    ledger.charge_agent_call(ada.id, session, "c5", 0).await.unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn an_app_whose_owner_ran_out_serves_through_its_grace_period_then_pauses(db: PgPool) {
    let server = TestServer::start_with(db.clone(), |config| {
        config.credits.app_grace_minutes = 1;
        config.credits.price_app_1k_requests = 10;
    })
    .await;
    let ada = server.signup("ada@example.com").await;
    set_balance(&db, ada.id, 5).await;
    let app = insert_app(&db, ada.id, "shop").await;
    let ledger = &server.state.ledger;
    let apps = &server.state.apps;
    let first = ledger.charge_app_requests(Some(apps), app, 1000, "w1").await.unwrap();
    let AppCharge::Grace { deadline } = first else { panic!("{first:?}") };
    let again = ledger.charge_app_requests(Some(apps), app, 1000, "w2").await.unwrap();
    assert_eq!(again, AppCharge::Grace { deadline }, "the grace period does not restart");
    assert_eq!(grace::pause_overdue(ledger, apps).await.unwrap(), 0);
    let told: Value = sqlx::query_scalar(
        "SELECT data FROM events WHERE kind = 'notification' AND user_id = $1 AND data->>'kind' = 'app_credits_grace'",
    )
    .bind(ada.id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(told["app_id"], app.to_string());

    // The deadline passes: the sweep pauses it (bookkeeping; this app has no version for the runtime to stop).
    sqlx::query("UPDATE app_credit_grace SET deadline = now() - interval '1 second' WHERE app_id = $1")
        .bind(app)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(grace::pause_overdue(ledger, apps).await.unwrap(), 1);
    assert_eq!(ledger.charge_app_requests(Some(apps), app, 1000, "w3").await.unwrap(), AppCharge::Paused);
    let paused: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE kind = 'notification' AND user_id = $1 AND data->>'kind' = 'app_paused_no_credits'",
    )
    .bind(ada.id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(paused, 1);

    // Credits again: the next charge succeeds and ends the grace bookkeeping.
    set_balance(&db, ada.id, 50).await;
    let charged = ledger.charge_app_requests(Some(apps), app, 1000, "w4").await.unwrap();
    assert!(matches!(charged, AppCharge::Charged { .. }));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM app_credit_grace").fetch_one(&db).await.unwrap();
    assert_eq!(left, 0);
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_cli_grants_credits_once_per_key(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let url = {
        let mut url = url::Url::parse(
            &std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        )
        .unwrap();
        url.set_path(db.connect_options().get_database().unwrap());
        url.to_string()
    };
    let grant = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_vibe"))
            .args(["credits", "grant"])
            .args(args)
            .env("VIBE_DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let output = grant(&["ADA@example.com", "250", "--reason", "beta tester", "--key", "beta-1"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("balance is now 350"));
    let again = grant(&["ada@example.com", "250", "--reason", "beta tester", "--key", "beta-1"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already granted"));
    let other = grant(&["ada@example.com", "300", "--reason", "beta tester", "--key", "beta-1"]);
    assert!(!other.status.success());
    let unknown = grant(&["nobody@example.com", "5"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account with email"));
    let negative = grant(&["ada@example.com", "--", "-5"]);
    assert!(!negative.status.success());

    let credits: Value = ada.get("/api/credits").await.json().await.unwrap();
    assert_eq!(credits["balance"], 350);
    assert_eq!(credits["ledger"][0]["kind"], "grant");
    assert_eq!(credits["ledger"][0]["reason"], "beta tester");
    assert_eq!(credits["ledger"].as_array().unwrap().len(), 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_agent_call_is_charged_its_price_and_the_fuel_it_burned(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let balance = || async {
        sqlx::query_scalar::<_, i64>("SELECT credits_balance FROM users WHERE id = $1")
            .bind(ada.id)
            .fetch_one(&db)
            .await
            .unwrap()
    };
    let before = balance().await;
    let session = Uuid::now_v7();
    server.state.ledger.charge_agent_call(ada.id, session, "light", 40_000).await.unwrap();
    assert_eq!(balance().await, before - 1, "an ordinary call: its price");
    server.state.ledger.charge_agent_call(ada.id, session, "heavy", 2_500_000_000).await.unwrap();
    assert_eq!(balance().await, before - 1 - 3, "a heavy one: its price and 2 credits of fuel");
}
