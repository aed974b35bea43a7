//! Test harness: a real server on a loopback port over a fresh test database, and clients for it.

#![allow(dead_code)]

use std::net::SocketAddr;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::AppState;
use vibe_host::config::ServeConfig;
use vibe_host::secrets::Secret;

/// A `vibe` server running in this test process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub db: PgPool,
    /// The key the server signs session tokens with (tests forge tokens with it).
    pub token_key: Vec<u8>,
    http: reqwest::Client,
}

impl TestServer {
    /// Starts a server on `db` with the default configuration.
    pub async fn start(db: PgPool) -> Self {
        Self::start_with(db, |_| {}).await
    }

    /// Starts a server on `db`, letting the test adjust the configuration first.
    pub async fn start_with(db: PgPool, adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        // App roles belong to the cluster and outlive the test databases that sqlx drops: drop
        // those left by earlier tests (their database is gone), never a running test's.
        if let Err(error) = vibe_apps_runtime::tenant::drop_orphaned_roles(&db).await {
            eprintln!("cannot drop orphaned app roles: {error}");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = ServeConfig::for_listen(addr);
        adjust(&mut config);
        let token_key = Uuid::new_v4().as_bytes().repeat(4);
        let secret = Secret::from_bytes(token_key.clone());
        let state = AppState::new(db.clone(), config, &secret).await.unwrap();
        let app = vibe_host::app(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        TestServer { addr, state, db, token_key, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// An unauthenticated request.
    pub fn anon(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Signs up a new account over the API and returns it with its bearer token.
    pub async fn signup(&self, email: &str) -> TestUser {
        let response = self
            .anon(Method::POST, "/api/auth/signup")
            .json(&json!({"email": email, "password": "correct horse battery", "name": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "signup of {email}");
        let body: Value = response.json().await.unwrap();
        TestUser {
            id: body["user"]["id"].as_str().unwrap().parse().unwrap(),
            email: email.to_owned(),
            token: body["token"].as_str().unwrap().to_owned(),
            base: format!("http://{}", self.addr),
            http: self.http.clone(),
        }
    }
}

impl Drop for TestServer {
    /// sqlx's harness closes the test pool and then drops the test database. A connection the server
    /// hands back to the pool while it closes can outlive the close (it sits in the closed pool, held by
    /// the server's tasks until the process ends); PostgreSQL then waits 5 s for it and refuses to drop
    /// the database. A watcher ends such stragglers once the pool is closed, so the drop goes through.
    fn drop(&mut self) {
        let pool = self.db.clone();
        std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(end_stragglers(pool));
        });
    }
}

/// Waits for `pool` to close, then terminates the connections left to its database until it is gone.
async fn end_stragglers(pool: PgPool) {
    use sqlx::Connection;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(50));
    while !pool.is_closed() {
        if std::time::Instant::now() > deadline {
            return;
        }
        pause().await;
    }
    let options = pool.connect_options();
    let Some(database) = options.get_database().map(str::to_owned) else { return };
    let Ok(mut admin) = sqlx::PgConnection::connect_with(&(*options).clone().database("postgres")).await
    else {
        return;
    };
    while std::time::Instant::now() < deadline {
        let left: Result<Option<i64>, _> = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(a.pid)) FROM pg_database d \
             LEFT JOIN pg_stat_activity a ON a.datname = d.datname AND a.pid <> pg_backend_pid() \
             WHERE d.datname = $1 GROUP BY d.datname",
        )
        .bind(&database)
        .fetch_optional(&mut admin)
        .await;
        // No row: the database is gone, nothing more to do.
        if !matches!(left, Ok(Some(_))) {
            return;
        }
        pause().await;
    }
}

/// A signed-up user who calls the API with a bearer token.
#[derive(Clone)]
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub token: String,
    base: String,
    http: reqwest::Client,
}

impl TestUser {
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{}", self.base, path)).bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path).json(&body).send().await.unwrap()
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.request(Method::PATCH, path).json(&body).send().await.unwrap()
    }

    pub async fn put(&self, path: &str, body: Value) -> Response {
        self.request(Method::PUT, path).json(&body).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path).send().await.unwrap()
    }
}

/// Reads an error response and checks its shape; returns the error's `code`.
pub async fn error_code(response: Response) -> String {
    let headers_request_id = response.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.expect("error bodies are JSON");
    let error = &body["error"];
    assert!(error["message"].is_string(), "error has a message: {body}");
    assert_eq!(
        error["request_id"].as_str().map(str::to_owned),
        headers_request_id,
        "request id in body: {body}"
    );
    error["code"].as_str().expect("error has a code").to_owned()
}
