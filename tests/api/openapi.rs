//! The OpenAPI document at `/api/openapi.json`: a valid 3.x document that lists every API route, each
//! with its errors in the one error shape.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;

use crate::support::TestServer;

/// Every route served under `/api` (besides the document itself). A new endpoint belongs here too: this
/// list is what keeps the document and the router from drifting apart.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/magic-link"),
    ("GET", "/api/auth/magic-link/confirm"),
    ("POST", "/api/auth/magic-link/confirm"),
    ("GET", "/api/users/me"),
    ("PATCH", "/api/users/me"),
    ("GET", "/api/ideas"),
    ("POST", "/api/ideas"),
    ("GET", "/api/ideas/{id}"),
    ("PATCH", "/api/ideas/{id}"),
    ("DELETE", "/api/ideas/{id}"),
    ("GET", "/api/ideas/{id}/collaborate"),
    ("POST", "/api/ideas/{id}/collaborate"),
    ("DELETE", "/api/ideas/{id}/collaborate/{email}"),
    ("POST", "/api/sessions"),
    ("GET", "/api/sessions/{id}"),
    ("POST", "/api/sessions/{id}/message"),
    ("GET", "/api/ideas/{id}/spec"),
    ("PUT", "/api/ideas/{id}/spec"),
    ("POST", "/api/ideas/{id}/spec/confirm"),
    ("GET", "/api/apps"),
    ("GET", "/api/apps/{id}"),
    ("PATCH", "/api/apps/{id}"),
    ("DELETE", "/api/apps/{id}"),
    ("GET", "/api/apps/{id}/open"),
    ("GET", "/api/apps/{id}/source"),
    ("POST", "/api/ideas/{id}/build"),
    ("GET", "/api/ideas/{id}/builds"),
    ("GET", "/api/builds/{id}"),
    ("GET", "/api/ideas/{id}/sessions"),
    ("GET", "/api/apps/{id}/versions"),
    ("POST", "/api/apps/{id}/versions"),
    ("POST", "/api/apps/{id}/rollback"),
    ("POST", "/api/apps/{id}/pause"),
    ("POST", "/api/apps/{id}/resume"),
    ("GET", "/api/apps/{id}/logs"),
    ("GET", "/api/apps/{id}/metrics"),
    ("GET", "/api/credits"),
    ("POST", "/api/credits"),
    ("POST", "/api/credits/webhook"),
    ("GET", "/api/credits/users/{id}"),
    ("POST", "/api/credits/users/{id}/resume"),
    ("GET", "/api/accounts"),
    ("POST", "/api/accounts/{id}/grants"),
    ("GET", "/api/ws"),
    ("POST", "/api/plugins"),
    ("GET", "/api/plugins"),
    ("GET", "/api/plugins/{name}/versions"),
    ("GET", "/api/plugins/{name}/versions/{version}"),
    ("POST", "/api/plugins/{name}/versions/{version}/approve"),
    ("POST", "/api/plugins/{name}/versions/{version}/deprecate"),
    ("POST", "/api/users/me/keys"),
    ("GET", "/api/users/me/keys"),
    ("DELETE", "/api/users/me/keys/{id}"),
    ("GET", "/api/agents"),
    ("GET", "/api/agents/{type}"),
    ("GET", "/api/agents/{type}/routing"),
    ("PUT", "/api/agents/{type}/routing"),
    ("POST", "/api/agents/{type}/routing/rollback"),
    ("PUT", "/api/agents/{type}/limits"),
];

const ERROR_REF: &str = "#/components/schemas/ErrorBody";

/// The (method, path) pairs the document lists.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete", "head", "options", "trace"] {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

async fn document(server: &TestServer) -> Value {
    let response = server.anon(Method::GET, "/api/openapi.json").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    response.json().await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_document_lists_every_route_with_the_error_schema(db: PgPool) {
    let server = TestServer::start(db).await;
    let doc = document(&server).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "OpenAPI 3.x: {}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let expected: BTreeSet<(String, String)> =
        ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    let listed = documented(&doc);
    assert_eq!(
        listed.difference(&expected).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not in ROUTES (add them to tests/api/openapi.rs)"
    );
    assert_eq!(
        expected.difference(&listed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in ROUTES but not documented"
    );

    let schemas = &doc["components"]["schemas"];
    let error = &schemas["ErrorBody"];
    assert_eq!(error["properties"]["error"]["$ref"], "#/components/schemas/ErrorDetail", "{error}");
    for field in ["code", "message"] {
        let required = schemas["ErrorDetail"]["required"].as_array().expect("required fields");
        assert!(required.iter().any(|r| r == field), "{field} is required in ErrorDetail");
    }
    assert!(schemas["StoredEvent"].is_object(), "the WebSocket's event shape is documented");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    for (method, path) in &listed {
        let operation = &doc["paths"][path][method.to_lowercase()];
        let responses = operation["responses"].as_object().expect("responses");
        let errors: Vec<(&String, &Value)> =
            responses.iter().filter(|(status, _)| status.starts_with(['4', '5'])).collect();
        assert!(!errors.is_empty(), "{method} {path} documents no error response");
        for (status, response) in errors {
            let content = response["content"].as_object().expect("error responses have a body");
            // Pages for browsers (a sign-in link's page) answer in HTML; everything else in the error shape.
            if content.contains_key("text/html") {
                continue;
            }
            assert_eq!(content["application/json"]["schema"]["$ref"], ERROR_REF, "{method} {path} {status}");
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn every_documented_route_is_served(db: PgPool) {
    let server = TestServer::start(db).await;
    let doc = document(&server).await;
    let some_id = uuid::Uuid::new_v4().to_string();
    let listed = documented(&doc);
    for (method, path) in &listed {
        let concrete = path.replace("{id}", &some_id).replace("{email}", "someone@example.com");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let response = server.anon(method, &concrete).send().await.unwrap();
        assert!(response.status().is_client_error(), "{path}: anonymous call answered {}", response.status());
    }
    // The router's matched route is what metrics are labelled with: each template must have matched.
    let metrics = server.anon(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    for (method, path) in &listed {
        let label = format!("method=\"{method}\",route=\"{path}\"");
        assert!(metrics.contains(&label), "{method} {path} did not reach its route:\n{metrics}");
    }
}
