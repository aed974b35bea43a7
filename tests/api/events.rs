//! The live-events WebSocket: handshake checks, who receives what (live and replayed), catch-up without
//! gaps or duplicates, lagging subscribers, keepalive; `cluster` runs two real `vibe` processes.

pub(crate) mod cluster;

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use uuid::Uuid;
use vibe_host::events::{Event, EventBus, EventKind};

use crate::support::{TestServer, TestUser};

pub type Ws = WebSocketStream<TcpStream>;

/// How long a test waits for a frame before it gives up.
const PATIENCE: Duration = Duration::from_secs(15);

/// Opens a WebSocket to `addr` at `path_and_query` with extra `headers`; `recv_buffer` shrinks the
/// client's receive buffer (to make a client that does not read block the server quickly).
pub async fn try_connect(
    addr: SocketAddr,
    path_and_query: &str,
    headers: &[(&'static str, String)],
    recv_buffer: Option<u32>,
) -> Result<Ws, tungstenite::Error> {
    let mut request = format!("ws://{addr}{path_and_query}").into_client_request()?;
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    let socket = TcpSocket::new_v4()?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    let stream = socket.connect(addr).await?;
    let (ws, _) = tokio_tungstenite::client_async(request, stream).await?;
    Ok(ws)
}

/// Connects `user` with a bearer token, optionally resuming after `since`.
pub async fn connect(addr: SocketAddr, user: &TestUser, since: Option<i64>) -> Ws {
    let query = since.map(|s| format!("?since={s}")).unwrap_or_default();
    let bearer = [("authorization", format!("Bearer {}", user.token))];
    try_connect(addr, &format!("/api/ws{query}"), &bearer, None).await.expect("handshake")
}

/// The status and error code of a refused handshake.
async fn refusal(result: Result<Ws, tungstenite::Error>) -> (StatusCode, String) {
    match result {
        Err(tungstenite::Error::Http(response)) => {
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                .expect("refusals are JSON errors");
            let code = body["error"]["code"].as_str().expect("error code").to_owned();
            (StatusCode::from_u16(response.status().as_u16()).unwrap(), code)
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, the handshake succeeded"),
    }
}

/// The next event frame (pings and pongs skipped).
pub async fn next_event(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("an event within the patience")
            .expect("the socket stays open")
            .expect("a valid frame");
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("events are JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The ids of the events received up to and including `last`.
pub async fn ids_until(ws: &mut Ws, last: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    loop {
        let id = next_event(ws).await["id"].as_i64().expect("an id");
        ids.push(id);
        if id == last {
            return ids;
        }
    }
}

/// Publishes an event through the in-process bus.
async fn publish(
    server: &TestServer,
    kind: EventKind,
    idea_id: Option<Uuid>,
    app_id: Option<Uuid>,
    user_id: Option<Uuid>,
) -> i64 {
    let event = Event { kind, idea_id, app_id, user_id, data: json!({"note": "test"}) };
    server.state.events.publish(event).await.unwrap()
}

pub async fn create_idea(user: &TestUser, visibility: &str) -> Uuid {
    let response = user.post("/api/ideas", json!({"name": "An idea", "visibility": visibility})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().parse().unwrap()
}

async fn create_app(db: &PgPool, owner: Uuid, idea: Option<Uuid>) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO apps (id, user_id, idea_id, slug, name) VALUES ($1, $2, $3, $4, 'An app')")
        .bind(id)
        .bind(owner)
        .bind(idea)
        .bind(format!("app-{}", &id.simple().to_string()[..12]))
        .execute(db)
        .await
        .unwrap();
    id
}

/// Alice, Bob (a viewer of Alice's shared idea) and Carol (owner of a public idea).
struct Cast {
    alice: TestUser,
    bob: TestUser,
    private_idea: Uuid,
    alice_app: Uuid,
    shared_idea: Uuid,
    carol_app_on_shared: Uuid,
    public_idea: Uuid,
}

async fn cast(server: &TestServer) -> Cast {
    let alice = server.signup("alice@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let carol = server.signup("carol@example.com").await;
    let private_idea = create_idea(&alice, "private").await;
    let shared_idea = create_idea(&alice, "collaborators").await;
    let invite = json!({"email": bob.email, "role": "viewer"});
    let response = alice.post(&format!("/api/ideas/{shared_idea}/collaborate"), invite).await;
    assert!(response.status().is_success(), "invite: {}", response.status());
    let public_idea = create_idea(&carol, "public").await;
    Cast {
        alice_app: create_app(&server.db, alice.id, None).await,
        carol_app_on_shared: create_app(&server.db, carol.id, Some(shared_idea)).await,
        alice,
        bob,
        private_idea,
        shared_idea,
        public_idea,
    }
}

/// Causes events with different audiences; returns the ids Alice and Bob must get, in order. The last
/// one is for both.
async fn mixed_events(server: &TestServer, c: &Cast) -> (Vec<i64>, Vec<i64>) {
    use EventKind::*;
    // The first through the API: a message in a session on Alice's private idea.
    let session =
        c.alice.post("/api/sessions", json!({"idea_id": c.private_idea, "agent_type": "ideation"})).await;
    assert_eq!(session.status(), StatusCode::CREATED);
    let session = session.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let sent = c.alice.post(&format!("/api/sessions/{session}/message"), json!({"content": "hello"})).await;
    assert_eq!(sent.status(), StatusCode::CREATED);
    let (message,): (i64,) = sqlx::query_as("SELECT max(id) FROM events WHERE kind = 'agent:message'")
        .fetch_one(&server.db)
        .await
        .unwrap();

    let (alice, bob) = (Some(c.alice.id), Some(c.bob.id));
    let thinking = publish(server, AgentThinking, Some(c.private_idea), None, None).await;
    let for_bob = publish(server, Notification, None, None, bob).await;
    let app = publish(server, AppStatus, None, Some(c.alice_app), None).await;
    let for_alice_on_idea = publish(server, Notification, Some(c.private_idea), None, alice).await;
    // Nobody: Bob has no role on the private idea; no target at all; things that do not exist.
    publish(server, Notification, Some(c.private_idea), None, bob).await;
    publish(server, Notification, None, None, None).await;
    publish(server, AppStatus, None, Some(Uuid::new_v4()), None).await;
    publish(server, AgentMessage, Some(Uuid::new_v4()), None, None).await;
    let shared = publish(server, BuildProgress, Some(c.shared_idea), None, None).await;
    let app_on_shared = publish(server, AppStatus, None, Some(c.carol_app_on_shared), None).await;
    let public = publish(server, AgentToolCall, Some(c.public_idea), None, None).await;
    (
        vec![message, thinking, app, for_alice_on_idea, shared, app_on_shared, public],
        vec![for_bob, shared, app_on_shared, public],
    )
}

async fn latest_event_id(db: &PgPool) -> i64 {
    sqlx::query_as::<_, (Option<i64>,)>("SELECT max(id) FROM events")
        .fetch_one(db)
        .await
        .unwrap()
        .0
        .unwrap_or(0)
}

#[sqlx::test(migrations = "../migrations")]
async fn handshake_needs_a_login_from_our_origin(db: PgPool) {
    let server = TestServer::start(db).await;
    let alice = server.signup("alice@example.com").await;
    let addr = server.addr;

    assert_eq!(
        refusal(try_connect(addr, "/api/ws", &[], None).await).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
    let forged = [("authorization", "Bearer not.a.token".to_owned())];
    assert_eq!(refusal(try_connect(addr, "/api/ws", &forged, None).await).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refusal(try_connect(addr, "/api/ws?token=nope", &[], None).await).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A page of another site, even with a valid cookie: refused before upgrading.
    let cookie = ("cookie", format!("vibe_session={}", alice.token));
    let foreign = [cookie.clone(), ("origin", "http://evil.example".to_owned())];
    assert_eq!(
        refusal(try_connect(addr, "/api/ws", &foreign, None).await).await,
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    let bad_since = [("authorization", format!("Bearer {}", alice.token))];
    assert_eq!(
        refusal(try_connect(addr, "/api/ws?since=soon", &bad_since, None).await).await.0,
        StatusCode::BAD_REQUEST
    );

    // Each way of presenting the login works, our own origin included.
    let ours = [cookie, ("origin", format!("http://{addr}"))];
    try_connect(addr, "/api/ws", &ours, None).await.expect("cookie from our origin");
    try_connect(addr, &format!("/api/ws?token={}", alice.token), &[], None).await.expect("query token");
    connect(addr, &alice, None).await;

    // A plain GET is not a WebSocket handshake.
    let plain = alice.get("/api/ws").await;
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);

    // Logging out ends the token for new connections.
    assert_eq!(alice.post("/api/auth/logout", json!({})).await.status(), StatusCode::NO_CONTENT);
    let query = format!("/api/ws?token={}", alice.token);
    assert_eq!(refusal(try_connect(addr, &query, &[], None).await).await.0, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn live_events_reach_exactly_who_may_see_them(db: PgPool) {
    let server = TestServer::start(db).await;
    let c = cast(&server).await;
    let mut alice_ws = connect(server.addr, &c.alice, None).await;
    let mut bob_ws = connect(server.addr, &c.bob, None).await;

    let (for_alice, for_bob) = mixed_events(&server, &c).await;

    let first = next_event(&mut alice_ws).await;
    assert_eq!(first["id"], for_alice[0]);
    assert_eq!(first["type"], "agent:message");
    assert_eq!(first["idea_id"], c.private_idea.to_string());
    assert_eq!(first["data"]["message"]["content"], "hello");
    assert!(first["at"].as_str().is_some_and(|at| at.contains('T')), "RFC 3339 time: {first}");
    assert!(first.get("app_id").is_none() && first.get("user_id").is_none(), "{first}");
    let rest = ids_until(&mut alice_ws, *for_alice.last().unwrap()).await;
    assert_eq!(rest, for_alice[1..]);
    assert_eq!(ids_until(&mut bob_ws, *for_bob.last().unwrap()).await, for_bob);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_invitation_takes_effect_on_the_next_event(db: PgPool) {
    let server = TestServer::start(db).await;
    let c = cast(&server).await;
    let mut bob_ws = connect(server.addr, &c.bob, None).await;
    let mut alice_ws = connect(server.addr, &c.alice, None).await;
    let before = publish(&server, EventKind::AgentThinking, Some(c.private_idea), None, None).await;
    // Once Alice has it, the bus has settled its audience: the invitation comes strictly after.
    assert_eq!(next_event(&mut alice_ws).await["id"], before);
    let invite = json!({"email": c.bob.email, "role": "viewer"});
    assert!(
        c.alice
            .post(&format!("/api/ideas/{}/collaborate", c.private_idea), invite)
            .await
            .status()
            .is_success()
    );
    let after = publish(&server, EventKind::AgentThinking, Some(c.private_idea), None, None).await;
    let got = ids_until(&mut bob_ws, after).await;
    assert!(!got.contains(&before), "the event before the invitation is not Bob's: {got:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn since_replays_what_was_missed_then_goes_live_once(db: PgPool) {
    let server = TestServer::start(db).await;
    let c = cast(&server).await;
    let since = latest_event_id(&server.db).await;
    let (for_alice, for_bob) = mixed_events(&server, &c).await;

    // The replay applies the same rule as live delivery.
    let mut alice_ws = connect(server.addr, &c.alice, Some(since)).await;
    let mut bob_ws = connect(server.addr, &c.bob, Some(since)).await;
    assert_eq!(ids_until(&mut alice_ws, *for_alice.last().unwrap()).await, for_alice);
    assert_eq!(ids_until(&mut bob_ws, *for_bob.last().unwrap()).await, for_bob);

    // Then live, with nothing sent twice.
    let live = publish(&server, EventKind::Notification, None, None, Some(c.alice.id)).await;
    assert_eq!(next_event(&mut alice_ws).await["id"], live);

    // Resuming from the middle sends only what came after.
    let mut resumed = connect(server.addr, &c.alice, Some(for_alice[3])).await;
    let mut expected = for_alice[4..].to_vec();
    expected.push(live);
    assert_eq!(ids_until(&mut resumed, live).await, expected);
}

#[sqlx::test(migrations = "../migrations")]
async fn connecting_during_a_burst_loses_and_repeats_nothing(db: PgPool) {
    let server = TestServer::start(db).await;
    let alice = server.signup("alice@example.com").await;
    let since = latest_event_id(&server.db).await;
    let alice_id = alice.id;

    // Four concurrent publishers (so commits interleave) while Alice connects with `since`.
    let publishers: Vec<_> = (0..4)
        .map(|_| {
            let bus = server.state.events.clone();
            tokio::spawn(async move {
                for _ in 0..60 {
                    let event = Event {
                        kind: EventKind::Notification,
                        idea_id: None,
                        app_id: None,
                        user_id: Some(alice_id),
                        data: json!({}),
                    };
                    bus.publish(event).await.unwrap();
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut ws = connect(server.addr, &alice, Some(since)).await;
    for publisher in publishers {
        publisher.await.unwrap();
    }
    let last = publish(&server, EventKind::Notification, None, None, Some(alice.id)).await;

    let mut received = Vec::new();
    loop {
        let id = next_event(&mut ws).await["id"].as_i64().unwrap();
        received.push(id);
        if id == last {
            break;
        }
    }
    let mut unique = received.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), received.len(), "no duplicates");
    let stored: Vec<i64> = sqlx::query_scalar("SELECT id FROM events WHERE id > $1 ORDER BY id")
        .bind(since)
        .fetch_all(&server.db)
        .await
        .unwrap();
    assert_eq!(unique, stored, "no gaps");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_lagging_client_catches_up_from_the_table(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let alice = server.signup("alice@example.com").await;
    // A second server on the same state, whose bus keeps only 4 undelivered events per subscriber.
    let mut state = server.state.clone();
    state.events = EventBus::with_capacity(db, 4).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = vibe_host::app(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // A client that does not read, with a small receive buffer: the server's sends block soon. It
    // asks for everything after event 0, so events published before the server has subscribed it
    // (the handshake and the subscription are not one step) still reach it, from the table.
    let bearer = [("authorization", format!("Bearer {}", alice.token))];
    let mut ws = try_connect(addr, "/api/ws?since=0", &bearer, Some(16 * 1024)).await.unwrap();
    let big = "x".repeat(64 * 1024);
    let mut published = Vec::new();
    for _ in 0..120 {
        let event = Event {
            kind: EventKind::Notification,
            idea_id: None,
            app_id: None,
            user_id: Some(alice.id),
            data: json!({"padding": big}),
        };
        published.push(state.events.publish(event).await.unwrap());
    }

    assert_eq!(ids_until(&mut ws, *published.last().unwrap()).await, published, "all, once, in order");
    let metrics = server.anon(reqwest::Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("vibe_ws_lagged_total"), "the lagging path ran:\n{metrics}");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_server_answers_pings_and_ignores_client_messages(db: PgPool) {
    let server = TestServer::start(db).await;
    let alice = server.signup("alice@example.com").await;
    let mut ws = connect(server.addr, &alice, None).await;
    ws.send(Message::Text("hello?".into())).await.unwrap();
    ws.send(Message::Ping(tungstenite::Bytes::from_static(b"are you there"))).await.unwrap();
    let pong = tokio::time::timeout(PATIENCE, ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(pong, Message::Pong(tungstenite::Bytes::from_static(b"are you there")));

    // An oversized message ends the connection, not the server.
    ws.send(Message::Text("y".repeat(64 * 1024).into())).await.unwrap();
    let ended = tokio::time::timeout(PATIENCE, ws.next()).await.unwrap();
    assert!(!matches!(ended, Some(Ok(Message::Text(_)))), "{ended:?}");
    let live = publish(&server, EventKind::Notification, None, None, Some(alice.id)).await;
    let mut again = connect(server.addr, &alice, Some(live - 1)).await;
    assert_eq!(next_event(&mut again).await["id"], live);
}

#[sqlx::test(migrations = "../migrations")]
async fn events_published_while_the_listener_is_down_are_not_lost(db: PgPool) {
    let server = TestServer::start(db).await;
    let alice = server.signup("alice@example.com").await;
    let mut ws = connect(server.addr, &alice, None).await;

    // Kill the connection the bus listens on, as a database restart or a network cut would.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN %vibe_events%'",
    )
    .fetch_all(&server.db)
    .await
    .unwrap();
    assert_eq!(killed, [true], "one connection listening for events");
    let while_down = publish(&server, EventKind::Notification, None, None, Some(alice.id)).await;
    assert_eq!(next_event(&mut ws).await["id"], while_down);

    // Listening again, and nothing delivered twice.
    let after = publish(&server, EventKind::Notification, None, None, Some(alice.id)).await;
    assert_eq!(next_event(&mut ws).await["id"], after);
}
