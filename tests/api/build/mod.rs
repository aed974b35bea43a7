//! The build pipeline's code generator end to end: each example spec becomes a crate that
//! compiles to a `wasm32-wasip2` component (`compile.rs`, a stand-in for the compiler stage),
//! deploys with its migrations, and answers its pages and JSON API for real (`live.rs`); a
//! changed spec becomes a new version that keeps the rows (`upgrade.rs`); the derived test plan
//! passes against the generated app (`plan.rs`); hostile spec text stays text (`hostile.rs`).

mod compile;
mod compiler;
mod hostile;
mod live;
mod pipeline;
mod plan;
mod repair;
mod repo;
mod runner;
mod upgrade;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::apps::deploy::NewVersion;
use vibe_host::apps::registry::LiveState;
use vibe_host::build::codegen::{self, GeneratedApp};
use vibe_host::build::plan::Visitor;
use vibe_host::build::runner::identity_headers;
use vibe_host::spec::{self, AppSpec};

use crate::app_hosting::{eventually, new_app};
use crate::support::TestServer;

/// Example spec `host/schemas/examples/{name}.json`, validated.
pub fn example(name: &str) -> AppSpec {
    let value = crate::specs::example(name);
    spec::parse(&value).unwrap_or_else(|violations| panic!("{name}: {}", spec::summarize(&violations)))
}

/// A generated app deployed on a test server, and requests to it as plan visitors.
pub struct LiveApp {
    pub server: TestServer,
    pub id: Uuid,
    pub slug: String,
}

impl LiveApp {
    /// Deploys `app` (compiled here) as a new app named by its spec's slug.
    pub async fn deploy(db: PgPool, spec: &AppSpec, app: &GeneratedApp) -> LiveApp {
        let built = compile::build(app).await;
        let server = TestServer::start(db.clone()).await;
        let owner = server.signup("owner@example.com").await;
        let id = new_app(&db, owner.id, &spec.app.slug).await;
        let live = LiveApp { server, id, slug: spec.app.slug.clone() };
        live.upgrade(app, built).await;
        live
    }

    /// Deploys `app` as the next version of this app.
    pub async fn upgrade(&self, app: &GeneratedApp, component: Vec<u8>) {
        let version = NewVersion { component, migrations: app.migrations(), ..NewVersion::default() };
        self.server.state.apps.deploy(self.id, version).await.unwrap_or_else(|e| panic!("deploy: {e:?}"));
        eventually("the app to answer its health check", || async {
            let (status, _) = self.send(Method::GET, "/_health", Visitor::Anonymous, None).await;
            (status == StatusCode::OK).then_some(())
        })
        .await;
    }

    /// Sends `method path` as `visitor` (the identity headers the platform will set), with a
    /// JSON body or none; the status and the body text.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        visitor: Visitor,
        json: Option<Value>,
    ) -> (StatusCode, String) {
        let (body, content_type) = match json {
            Some(json) => (json.to_string(), Some("application/json")),
            None => (String::new(), None),
        };
        let (status, _, text) = self.handle(method, path, visitor, content_type, body).await;
        (status, text)
    }

    /// Posts a form as `visitor`; the status, and the `location` when there is one, else the body.
    pub async fn post_form(
        &self,
        path: &str,
        visitor: Visitor,
        form: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let body: String = form
            .iter()
            .map(|(name, value)| format!("{}={}", urlencode(name), urlencode(value)))
            .collect::<Vec<_>>()
            .join("&");
        let (status, location, text) =
            self.handle(Method::POST, path, visitor, Some("application/x-www-form-urlencoded"), body).await;
        (status, location.unwrap_or(text))
    }

    /// Sends a request to the app's live version in this process, as the host's routing does
    /// after it has vouched for `visitor` (the identity headers of `runner::identity_headers`):
    /// the status, the `location` if any, and the body.
    async fn handle(
        &self,
        method: Method,
        path: &str,
        visitor: Visitor,
        content_type: Option<&str>,
        body: String,
    ) -> (StatusCode, Option<String>, String) {
        let live = self.server.state.apps.registry().by_id(self.id).expect("the app is live");
        let LiveState::Serving(app) = &live.state else { panic!("the app is paused") };
        let method = http::Method::from_bytes(method.as_str().as_bytes()).unwrap();
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "app.test")
            .header("x-forwarded-prefix", format!("/apps/{}", self.slug));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        for (name, value) in identity_headers(visitor) {
            request = request.header(name, value);
        }
        let response = app.handle(request.body(axum::body::Body::from(body)).unwrap()).await;
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        let bytes =
            axum::body::to_bytes(axum::body::Body::new(response.into_body()), usize::MAX).await.unwrap();
        (status, location, String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The generated files of example `name`, first version.
pub fn generated(name: &str) -> (AppSpec, GeneratedApp) {
    let spec = example(name);
    let app = codegen::generate(&spec, None).unwrap_or_else(|e| panic!("{name}: {e}"));
    (spec, app)
}
