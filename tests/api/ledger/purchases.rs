//! Purchases: `POST /api/credits` against a local server that stands in for Stripe (it checks the real
//! request shape and answers Stripe's Checkout Session object), then the webhook: bad signature, stale
//! timestamp, re-serialised body and a redelivered event are refused, refused, refused, and one grant.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Form, Json, Router};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use vibe_host::ledger::webhook;

use crate::support::{TestServer, TestUser, error_code};

const SECRET_KEY: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";
const WEBHOOK_SECRET: &str = "whsec_test_secret";

/// One request the fake Stripe received: its headers and form fields.
type Seen = Arc<Mutex<Vec<(HeaderMap, Vec<(String, String)>)>>>;

/// A local server speaking Stripe's `POST /v1/checkout/sessions`.
async fn fake_stripe() -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    async fn create(
        State(seen): State<Seen>,
        headers: HeaderMap,
        Form(form): Form<Vec<(String, String)>>,
    ) -> (StatusCode, Json<Value>) {
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {SECRET_KEY}") as &str);
        seen.lock().unwrap().push((headers.clone(), form.clone()));
        if !authorized {
            return (
                StatusCode::UNAUTHORIZED,
                Json(
                    json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}),
                ),
            );
        }
        let id = format!("cs_test_{}", uuid::Uuid::new_v4().simple());
        let amount: i64 = field("line_items[0][price_data][unit_amount]").unwrap().parse().unwrap();
        (
            StatusCode::OK,
            Json(json!({
                "id": id,
                "object": "checkout.session",
                "amount_subtotal": amount,
                "amount_total": amount,
                "cancel_url": field("cancel_url"),
                "client_reference_id": field("client_reference_id"),
                "currency": field("line_items[0][price_data][currency]"),
                "customer_email": field("customer_email"),
                "livemode": false,
                "metadata": {
                    "purchase_id": field("metadata[purchase_id]"),
                    "user_id": field("metadata[user_id]"),
                    "credits": field("metadata[credits]"),
                },
                "mode": "payment",
                "payment_status": "unpaid",
                "status": "open",
                "success_url": field("success_url"),
                "url": format!("https://checkout.stripe.com/c/pay/{id}#fidkdWxOYHwnPyd1blpxYHZxWjA0"),
            })),
        )
    }
    let app = Router::new().route("/v1/checkout/sessions", post(create)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

async fn server_with_stripe(db: PgPool, stripe: SocketAddr) -> TestServer {
    TestServer::start_with(db, |config| {
        config.credits.stripe_secret_key = Some(SECRET_KEY.parse().unwrap());
        config.credits.stripe_webhook_secret = Some(WEBHOOK_SECRET.parse().unwrap());
        config.credits.stripe_api_base = format!("http://{stripe}").parse().unwrap();
        config.credits.credit_price_cents = 2;
    })
    .await
}

/// A `checkout.session.completed` event for `session`, as Stripe sends it (compact JSON).
fn completed(event_id: &str, session: &Value) -> String {
    let mut object = session.clone();
    object["payment_status"] = json!("paid");
    object["status"] = json!("complete");
    serde_json::to_string(&json!({
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": webhook::now(),
        "data": {"object": object},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": "checkout.session.completed",
    }))
    .unwrap()
}

async fn deliver(server: &TestServer, body: &str, signature: &str) -> reqwest::Response {
    server
        .anon(Method::POST, "/api/credits/webhook")
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn start(ada: &TestUser, credits: i64) -> reqwest::Response {
    ada.post("/api/credits", json!({"credits": credits})).await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_purchase_goes_from_checkout_to_credited_balance_exactly_once(db: PgPool) {
    let (stripe, seen) = fake_stripe().await;
    let server = server_with_stripe(db.clone(), stripe).await;
    let ada = server.signup("ada@example.com").await;

    let response = start(&ada, 500).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let checkout: Value = response.json().await.unwrap();
    assert!(checkout["url"].as_str().unwrap().starts_with("https://checkout.stripe.com/c/pay/cs_test_"));
    assert_eq!((checkout["credits"].as_i64(), checkout["amount"].as_i64()), (Some(500), Some(1000)));

    // What Stripe received: its real request shape.
    let (headers, form) = seen.lock().unwrap()[0].clone();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str().to_owned());
    assert_eq!(headers["authorization"], format!("Bearer {SECRET_KEY}"));
    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
    let purchase_id = checkout["purchase_id"].as_str().unwrap();
    assert_eq!(headers["idempotency-key"], format!("vibe-purchase-{purchase_id}"));
    assert_eq!(field("mode").as_deref(), Some("payment"));
    assert_eq!(field("line_items[0][quantity]").as_deref(), Some("1"));
    assert_eq!(field("line_items[0][price_data][currency]").as_deref(), Some("usd"));
    assert_eq!(field("line_items[0][price_data][unit_amount]").as_deref(), Some("1000"));
    assert_eq!(field("line_items[0][price_data][product_data][name]").as_deref(), Some("500 Vibe credits"));
    assert_eq!(field("client_reference_id"), Some(ada.id.to_string()));
    assert_eq!(field("metadata[user_id]"), Some(ada.id.to_string()));
    assert_eq!(field("metadata[credits]").as_deref(), Some("500"));
    assert!(field("success_url").unwrap().starts_with("http://"));
    assert!(field("cancel_url").unwrap().contains("checkout=cancelled"));

    let session = json!({
        "id": checkout["checkout_session_id"],
        "object": "checkout.session",
        "amount_total": 1000,
        "currency": "usd",
        "client_reference_id": ada.id,
        "metadata": {"purchase_id": purchase_id, "user_id": ada.id, "credits": "500"},
        "mode": "payment",
    });
    let body = completed("evt_1", &session);
    let now = webhook::now();
    let secret = WEBHOOK_SECRET.as_bytes();

    // A bad signature, a stale timestamp, a re-serialised body: refused, and nothing granted.
    let bad = deliver(&server, &body, &webhook::sign(b"whsec_other", now, body.as_bytes())).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(bad).await, "bad_request");
    let stale = deliver(&server, &body, &webhook::sign(secret, now - 301, body.as_bytes())).await;
    assert_eq!(stale.status(), StatusCode::BAD_REQUEST);
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&body).unwrap()).unwrap();
    let reserialised = deliver(&server, &pretty, &webhook::sign(secret, now, body.as_bytes())).await;
    assert_eq!(reserialised.status(), StatusCode::BAD_REQUEST);
    let missing = server.anon(Method::POST, "/api/credits/webhook").body(body.clone()).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let credits: Value = ada.get("/api/credits").await.json().await.unwrap();
    assert_eq!(credits["balance"], 100, "nothing granted by refused deliveries");

    // The real delivery grants; the same event again, and another event about the same session, do not.
    let signature = webhook::sign(secret, now, body.as_bytes());
    let granted: Value = deliver(&server, &body, &signature).await.json().await.unwrap();
    assert_eq!(granted["outcome"], "granted");
    let again = deliver(&server, &body, &signature).await;
    assert_eq!(again.status(), StatusCode::OK, "Stripe must stop redelivering");
    assert_eq!(again.json::<Value>().await.unwrap()["outcome"], "duplicate_event");
    let other = completed("evt_2", &session);
    let other: Value =
        deliver(&server, &other, &webhook::sign(secret, now, other.as_bytes())).await.json().await.unwrap();
    assert_eq!(other["outcome"], "already_granted");

    let credits: Value = ada.get("/api/credits").await.json().await.unwrap();
    assert_eq!(credits["balance"], 600);
    assert_eq!(credits["ledger"][0]["kind"], "purchase");
    assert_eq!(credits["ledger"][0]["amount"], 500);
    assert_eq!(credits["ledger"][0]["reference_type"], "payment");
    assert_eq!(credits["ledger"][0]["reference_id"], checkout["checkout_session_id"]);
    let purchases: i64 = sqlx::query_scalar("SELECT count(*) FROM credit_ledger WHERE kind = 'purchase'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(purchases, 1);

    // Another event type is acknowledged and ignored.
    let ignored = serde_json::to_string(&json!({"id": "evt_3", "object": "event", "type": "payment_intent.created", "data": {"object": {"id": "pi_1"}}})).unwrap();
    let ignored: Value = deliver(&server, &ignored, &webhook::sign(secret, now, ignored.as_bytes()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ignored["outcome"], "ignored");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_same_event_delivered_concurrently_grants_once(db: PgPool) {
    let (stripe, _) = fake_stripe().await;
    let server = server_with_stripe(db.clone(), stripe).await;
    let ada = server.signup("ada@example.com").await;
    let checkout: Value = start(&ada, 200).await.json().await.unwrap();
    let session = json!({
        "id": checkout["checkout_session_id"], "object": "checkout.session", "amount_total": 400, "currency": "usd",
        "metadata": {"purchase_id": checkout["purchase_id"]},
    });
    let body = completed("evt_9", &session);
    let signature = webhook::sign(WEBHOOK_SECRET.as_bytes(), webhook::now(), body.as_bytes());
    let deliveries = (0..20).map(|_| deliver(&server, &body, &signature));
    let statuses: Vec<StatusCode> =
        futures::future::join_all(deliveries).await.iter().map(|r| r.status()).collect();
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT), "{statuses:?}");
    let credits: Value = ada.get("/api/credits").await.json().await.unwrap();
    assert_eq!(credits["balance"], 300);
}

#[sqlx::test(migrations = "../migrations")]
async fn without_stripe_keys_purchases_say_they_are_not_configured(db: PgPool) {
    let server = TestServer::start(db).await;
    let ada = server.signup("ada@example.com").await;
    let response = start(&ada, 500).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "purchases_not_configured");
    assert!(body["error"]["message"].as_str().unwrap().contains("not configured"));
    let webhook = server
        .anon(Method::POST, "/api/credits/webhook")
        .header("stripe-signature", webhook::sign(b"whsec_any", webhook::now(), b"{}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(webhook).await, "purchases_not_configured");
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_purchases_are_refused(db: PgPool) {
    let (stripe, seen) = fake_stripe().await;
    let server = server_with_stripe(db.clone(), stripe).await;
    let ada = server.signup("ada@example.com").await;
    for credits in [0, -5, 99, 10_000_001] {
        let response = start(&ada, credits).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{credits}");
    }
    let response = ada.post("/api/credits", json!({"credits": 500, "price": 1})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        server
            .anon(Method::POST, "/api/credits")
            .json(&json!({"credits": 500}))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(seen.lock().unwrap().is_empty(), "nothing reached Stripe");

    // Stripe refusing the key: a 503 with our error shape, no Stripe internals.
    let wrong = TestServer::start_with(db, |config| {
        config.credits.stripe_secret_key = Some("sk_test_wrong".parse().unwrap());
        config.credits.stripe_api_base = format!("http://{stripe}").parse().unwrap();
    })
    .await;
    let bob = wrong.signup("bob@example.com").await;
    let response = start(&bob, 500).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(response).await, "unavailable");
}
