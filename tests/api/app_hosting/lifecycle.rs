//! An app's lifecycle: rollback, pause and resume, deletion, the CLI (and a running server picking
//! up its deploys), and who may do what.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use vibe_test_components::{HELLO_STD, SQL_CONSOLE, WRONG_WORLD};

use super::{
    answer, component, deploy, deploy_form, deployed, eventually, new_app, printed, slug_of, via_host,
    via_path, vibe,
};
use crate::authz::World;
use crate::support::{TestServer, error_code};

#[sqlx::test(migrations = "../migrations")]
async fn rollback_serves_an_earlier_version_again(db: PgPool) {
    let world = World::new(db.clone()).await;
    let app = world.scene("private").await.app;
    let slug = slug_of(&db, app).await;
    deployed(&world.owner, app, component(HELLO_STD)).await;
    let second = deployed(&world.collaborator, app, component(SQL_CONSOLE)).await;
    assert_eq!(second["number"], 2);
    assert_eq!(answer(via_path(&world.server, Method::GET, &slug, "/", "").await).await.1, "sql console\n");

    let response = world.collaborator.post(&format!("/api/apps/{app}/rollback"), json!({"version": 1})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let live: Value = response.json().await.unwrap();
    assert_eq!((live["number"].clone(), live["live"].clone()), (json!(1), json!(true)));
    assert_eq!(answer(via_host(&world.server, Method::GET, &slug, "/", "").await).await.1, "hello from /\n");
    let versions: Value = world.viewer.get(&format!("/api/apps/{app}/versions")).await.json().await.unwrap();
    let flags: Vec<(i64, bool)> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["number"].as_i64().unwrap(), v["live"].as_bool().unwrap()))
        .collect();
    assert_eq!(flags, [(2, false), (1, true)], "newest first, one live");

    let response = world.owner.post(&format!("/api/apps/{app}/rollback"), json!({"version": 7})).await;
    assert_eq!(error_code(response).await, "validation_failed");
    let response =
        world.owner.post(&format!("/api/apps/{app}/rollback"), json!({"version": 1, "extra": 1})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused");
    assert_eq!(answer(via_path(&world.server, Method::GET, &slug, "/", "").await).await.1, "hello from /\n");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_paused_app_answers_503_until_resumed(db: PgPool) {
    let world = World::new(db.clone()).await;
    let app = world.scene("private").await.app;
    let slug = slug_of(&db, app).await;
    let response = world.owner.post(&format!("/api/apps/{app}/pause"), json!({})).await;
    assert_eq!(error_code(response).await, "conflict", "nothing to pause before a deploy");
    deployed(&world.owner, app, component(HELLO_STD)).await;

    let response = world.collaborator.post(&format!("/api/apps/{app}/pause"), json!({})).await;
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "paused");
    for response in [
        via_path(&world.server, Method::GET, &slug, "/", "").await,
        via_host(&world.server, Method::POST, &slug, "/anything", "x").await,
    ] {
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let (status, page) = answer(response).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(page.contains("This app is paused"), "{page}");
    }
    // A deploy while paused keeps it paused.
    deployed(&world.owner, app, component(SQL_CONSOLE)).await;
    assert_eq!(
        answer(via_path(&world.server, Method::GET, &slug, "/", "").await).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let response = world.owner.post(&format!("/api/apps/{app}/resume"), json!({})).await;
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "deployed");
    assert_eq!(
        answer(via_path(&world.server, Method::GET, &slug, "/", "").await).await,
        (StatusCode::OK, "sql console\n".into())
    );
    let status: String =
        sqlx::query_scalar("SELECT status FROM apps WHERE id = $1").bind(app).fetch_one(&db).await.unwrap();
    assert_eq!(status, "deployed");
}

async fn exists(db: &PgPool, query: &str, name: &str) -> bool {
    sqlx::query_scalar(query).bind(name).fetch_one(db).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn deleting_an_app_drops_its_schema_and_role(db: PgPool) {
    let world = World::new(db.clone()).await;
    let app = world.scene("private").await.app;
    let slug = slug_of(&db, app).await;
    let console = component(SQL_CONSOLE);
    let migration = b"CREATE TABLE notes (body text); INSERT INTO notes VALUES ('mine');".as_slice();
    let response = deploy_form(
        &world.owner,
        app,
        &[("component", Some("a.wasm"), &console), ("migrations", Some("1.sql"), migration)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let name = format!("app_{}", app.simple());
    let schema = "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)";
    let role = "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)";
    assert!(exists(&db, schema, &name).await && exists(&db, role, &name).await);
    assert_eq!(
        answer(via_path(&world.server, Method::POST, &slug, "/query", "SELECT body FROM notes").await)
            .await
            .1,
        "mine\n"
    );

    assert_eq!(error_code(world.collaborator.delete(&format!("/api/apps/{app}")).await).await, "forbidden");
    assert_eq!(error_code(world.stranger.delete(&format!("/api/apps/{app}")).await).await, "not_found");
    let response = world.owner.delete(&format!("/api/apps/{app}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert!(!exists(&db, schema, &name).await, "the schema is dropped");
    assert!(!exists(&db, role, &name).await, "the role is dropped");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM app_versions WHERE app_id = $1")
        .bind(app)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(
        answer(via_path(&world.server, Method::GET, &slug, "/", "").await).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(world.owner.get(&format!("/api/apps/{app}")).await.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_running_server_picks_up_cli_deploys(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let owner = server.signup("owner@example.com").await;

    let output = vibe(&server, &["app", "deploy", HELLO_STD, "--name", "shop"]);
    assert!(!output.status.success());
    assert!(printed(&output).contains("--owner"), "a new app needs an owner: {}", printed(&output));
    let output =
        vibe(&server, &["app", "deploy", HELLO_STD, "--name", "shop", "--owner", "owner@example.com"]);
    assert!(output.status.success(), "vibe app deploy: {}", printed(&output));
    assert!(printed(&output).contains("deployed shop version 1"), "{}", printed(&output));

    let hello = eventually("the CLI deploy to go live", || async {
        let (status, text) = answer(via_path(&server, Method::GET, "shop", "/", "").await).await;
        (status == StatusCode::OK).then_some(text)
    })
    .await;
    assert_eq!(hello, "hello from /\n");
    let app: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM apps WHERE slug = 'shop'").fetch_one(&db).await.unwrap();
    let owner_id: uuid::Uuid =
        sqlx::query_scalar("SELECT user_id FROM apps WHERE id = $1").bind(app).fetch_one(&db).await.unwrap();
    assert_eq!(owner_id, owner.id);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("001_init.sql"), "CREATE TABLE t (i int); INSERT INTO t VALUES (7);")
        .unwrap();
    std::fs::write(dir.path().join("readme.txt"), "not a migration").unwrap();
    let migrations = dir.path().to_str().unwrap();
    let output = vibe(&server, &["app", "deploy", SQL_CONSOLE, "--name", "shop", "--migrations", migrations]);
    assert!(output.status.success(), "second deploy: {}", printed(&output));
    let rows = eventually("the second version to go live", || async {
        let (status, text) =
            answer(via_host(&server, Method::POST, "shop", "/query", "SELECT i FROM t").await).await;
        (status == StatusCode::OK && !text.starts_with("hello")).then_some(text)
    })
    .await;
    assert_eq!(rows, "7\n", "the migration ran before the switch");

    let output = vibe(&server, &["app", "deploy", WRONG_WORLD, "--name", "shop"]);
    assert!(!output.status.success());
    assert!(printed(&output).contains("vibe:app world"), "the reason is printed: {}", printed(&output));

    let output = vibe(&server, &["app", "list"]);
    assert!(
        printed(&output).contains("shop\tdeployed\tversion 2\towner@example.com"),
        "{}",
        printed(&output)
    );
    let output = vibe(&server, &["app", "rollback", "shop", "1"]);
    assert!(output.status.success(), "{}", printed(&output));
    eventually("the rollback to reach the server", || async {
        let (_, text) = answer(via_path(&server, Method::GET, "shop", "/", "").await).await;
        (text == "hello from /\n").then_some(())
    })
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn only_owners_and_collaborators_manage_versions(db: PgPool) {
    let world = World::new(db.clone()).await;
    let app = world.scene("private").await.app;
    let hello = component(HELLO_STD);
    assert_eq!(error_code(deploy(&world.viewer, app, hello.clone()).await).await, "forbidden");
    assert_eq!(error_code(deploy(&world.stranger, app, hello.clone()).await).await, "not_found");
    deployed(&world.owner, app, hello).await;

    let base = format!("/api/apps/{app}");
    for (method, path) in [
        (Method::GET, "/versions"),
        (Method::POST, "/rollback"),
        (Method::POST, "/pause"),
        (Method::POST, "/resume"),
        (Method::GET, "/logs"),
        (Method::GET, "/metrics"),
        (Method::DELETE, ""),
    ] {
        let response = world
            .stranger
            .request(method.clone(), &format!("{base}{path}"))
            .json(&json!({"version": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(response).await, "not_found", "stranger {method} {path}");
        let response = world.server.anon(method.clone(), &format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "anonymous {method} {path}");
    }
    for (method, path) in [(Method::POST, "/rollback"), (Method::POST, "/pause"), (Method::GET, "/logs")] {
        let response = world
            .viewer
            .request(method.clone(), &format!("{base}{path}"))
            .json(&json!({"version": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(response).await, "forbidden", "viewer {method} {path}");
    }
    assert_eq!(world.viewer.get(&format!("{base}/versions")).await.status(), StatusCode::OK);
    assert_eq!(world.viewer.get(&format!("{base}/metrics")).await.status(), StatusCode::OK);

    // An app outside any idea is its owner's alone.
    let own = new_app(&db, world.stranger.id, "strangers-own").await;
    assert_eq!(error_code(deploy(&world.owner, own, component(HELLO_STD)).await).await, "not_found");
    assert_eq!(deploy(&world.stranger, own, component(HELLO_STD)).await.status(), StatusCode::CREATED);
}

#[sqlx::test(migrations = "../migrations")]
async fn app_roles_name_their_database_and_outlive_it_only_until_the_next_cleanup(db: PgPool) {
    let world = World::new(db.clone()).await;
    let app = world.scene("private").await.app;
    deployed(&world.owner, app, component(HELLO_STD)).await;
    let role = format!("app_{}", app.simple());
    let database: String =
        sqlx::query_scalar("SELECT current_database()::text").fetch_one(&db).await.unwrap();
    let comment: Option<String> =
        sqlx::query_scalar("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1")
            .bind(&role)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(comment, Some(format!("vibe app role of database {database}")));

    // A role left by a database that is gone, and two that must stay: one of a database that
    // exists (a running test's), one that is not ours (no comment).
    let orphan = format!("app_{}", uuid::Uuid::new_v4().simple());
    let foreign = format!("app_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!(
        "CREATE ROLE {orphan}; COMMENT ON ROLE {orphan} IS 'vibe app role of database gone_{}'; \
         CREATE ROLE {foreign};",
        uuid::Uuid::new_v4().simple()
    ))
    .execute(&db)
    .await
    .unwrap();
    let dropped = vibe_apps_runtime::tenant::drop_orphaned_roles(&db).await.unwrap();
    assert!(dropped.contains(&orphan), "{dropped:?}");
    assert!(!dropped.contains(&role) && !dropped.contains(&foreign), "{dropped:?}");
    let role_exists = "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)";
    assert!(!exists(&db, role_exists, &orphan).await);
    assert!(exists(&db, role_exists, &role).await, "the live database's app role stays");
    assert!(exists(&db, role_exists, &foreign).await);
    sqlx::raw_sql(&format!("DROP ROLE {foreign}")).execute(&db).await.unwrap();
    // The app's own role goes with its app (or, once this database is dropped, at the next cleanup).
    let response = world.owner.delete(&format!("/api/apps/{app}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(!exists(&db, role_exists, &role).await);
}
