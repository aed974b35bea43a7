//! The build pipeline's code generator end to end: each example spec becomes a crate that
//! compiles to a `wasm32-wasip2` component (`compile.rs`, a stand-in for the compiler stage),
//! deploys with its migrations, and answers its pages and JSON API for real (`live.rs`); a
//! changed spec becomes a new version that keeps the rows (`upgrade.rs`); the derived test plan
//! passes against the generated app (`plan.rs`).

mod compile;
mod compiler;
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
use vibe_host::build::codegen::{self, GeneratedApp};
use vibe_host::build::plan::Visitor;
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
        let mut request = identify(self.server.anon(method, &format!("/apps/{}{path}", self.slug)), visitor);
        if let Some(json) = json {
            request = request.json(&json);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
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
        let request = self
            .server
            .anon(Method::POST, &format!("/apps/{}{path}", self.slug))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        let response = identify(request, visitor).send().await.unwrap();
        let status = response.status();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (status, location.unwrap_or(response.text().await.unwrap()))
    }
}

/// `request` with the identity headers the platform sets for `visitor`.
fn identify(request: reqwest::RequestBuilder, visitor: Visitor) -> reqwest::RequestBuilder {
    let identity = match visitor {
        Visitor::Anonymous => return request,
        Visitor::Owner => (Visitor::owner_id(), "owner", "owner@test.invalid".to_owned()),
        Visitor::SignedIn(n) => (Visitor::user_id(n), "signed_in", format!("user{n}@test.invalid")),
    };
    request
        .header("x-vibe-user-id", identity.0.to_string())
        .header("x-vibe-user-relation", identity.1)
        .header("x-vibe-user-email", identity.2)
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
