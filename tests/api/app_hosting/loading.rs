//! Apps are loaded on demand: a server start registers apps without loading their components, a
//! deploy loads the new version ahead of its first visitor, a request loads an app that is not in
//! memory, and an app is unloaded again after the configured idle time.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use vibe_apps_runtime::LazyApp;
use vibe_host::apps::registry::LiveState;
use vibe_test_components::HELLO_STD;

use super::{answer, component, deployed, eventually, new_app, via_host, via_path};
use crate::support::TestServer;

/// The live entry of `slug` on `server`, which must be serving.
fn serving(server: &TestServer, slug: &str) -> LazyApp {
    let live = server.state.apps.registry().by_slug(slug).expect("the app is live");
    match &live.state {
        LiveState::Serving(app) => app.clone(),
        LiveState::Paused(_) => panic!("{slug} is paused"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_app_loads_on_its_first_request_and_unloads_when_idle(db: PgPool) {
    let server = TestServer::start_with(db.clone(), |config| config.apps_idle_unload_secs = 2).await;
    let owner = server.signup("owner@example.com").await;
    let app = new_app(&db, owner.id, "lazy").await;
    deployed(&owner, app, component(HELLO_STD)).await;
    let registry = server.state.apps.registry();

    let lazy = serving(&server, "lazy");
    eventually("the new version to be loaded ahead", || async { lazy.is_loaded().then_some(()) }).await;
    assert_eq!((registry.len(), registry.loaded()), (1, 1));
    eventually("the idle app to be unloaded", || async { (!lazy.is_loaded()).then_some(()) }).await;
    assert_eq!(registry.loaded(), 0);
    let (status, text) = answer(via_path(&server, Method::GET, "lazy", "/", "").await).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "hello from /\n"));
    assert!(lazy.is_loaded(), "the request loaded it");
    assert_eq!(registry.loaded(), 1);

    eventually("the idle app to be unloaded", || async { (!lazy.is_loaded()).then_some(()) }).await;
    assert_eq!(registry.loaded(), 0);
    let (status, text) = answer(via_host(&server, Method::GET, "lazy", "/again", "").await).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "hello from /again\n"), "and is loaded again");
    assert!(lazy.is_loaded());

    // A server starting registers the live apps; none is loaded before it is asked for.
    let restarted = TestServer::start(db.clone()).await;
    restarted.state.apps.load_all().await.unwrap();
    let registry = restarted.state.apps.registry();
    assert_eq!((registry.len(), registry.loaded()), (1, 0));
    assert_eq!(answer(via_path(&restarted, Method::GET, "lazy", "/", "").await).await.0, StatusCode::OK);
    assert_eq!(registry.loaded(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_app_whose_component_is_gone_answers_503_with_the_reason_in_its_log(db: PgPool) {
    // Its own data directory: the component's files are removed below.
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_owned();
    let server = TestServer::start_with(db.clone(), |config| {
        config.data_dir = data_dir;
        config.apps_idle_unload_secs = 1;
    })
    .await;
    let owner = server.signup("owner@example.com").await;
    let app = new_app(&db, owner.id, "gone").await;
    deployed(&owner, app, component(HELLO_STD)).await;
    // Loaded ahead after the deploy, then unloaded when idle: the next request must load it.
    let lazy = serving(&server, "gone");
    eventually("the new version to be loaded ahead", || async { lazy.is_loaded().then_some(()) }).await;
    eventually("the idle app to be unloaded", || async { (!lazy.is_loaded()).then_some(()) }).await;
    for dir in ["artifacts", "compiled"] {
        std::fs::remove_dir_all(data.path().join(dir)).unwrap();
    }

    let response = via_path(&server, Method::GET, "gone", "/", "").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "app_unavailable", "{body}");
    assert_eq!(body["error"]["request_id"], request_id.as_str());
    let logged: Vec<Value> = eventually("the reason in the app's log", || async {
        let logs: Vec<Value> =
            owner.get(&format!("/api/apps/{app}/logs?source=runtime")).await.json().await.unwrap();
        (!logs.is_empty()).then_some(logs)
    })
    .await;
    let message = logged[0]["message"].as_str().unwrap();
    assert!(message.contains("cannot load the app's component"), "{message}");
    assert_eq!(logged[0]["request_id"], request_id.as_str());
}
