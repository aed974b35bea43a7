//! `vibe:app/kv` as served apps get it: kept in PostgreSQL per app, so a value written by one request
//! is read by the next, by another server on the same database, and after a restart; never by
//! another app; bounded by key and value sizes and a per-app quota.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_apps_runtime::{AppKv, KvError, KvLimits};
use vibe_host::apps::kv::PgKv;
use vibe_test_components::CAPABILITIES;

use super::{answer, component, deployed, new_app, slug_of, via_host, via_path};
use crate::authz::World;
use crate::support::TestServer;

/// The `visits:` and `visit keys:` lines of the capabilities component's report.
async fn visits(server: &TestServer, slug: &str, by_host: bool) -> (String, String) {
    let response = if by_host {
        via_host(server, Method::GET, slug, "/", "").await
    } else {
        via_path(server, Method::GET, slug, "/", "").await
    };
    let (status, report) = answer(response).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(report.contains("huge value: too large"), "a 2 MiB value is refused: {report}");
    let line = |name: &str| {
        report
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {report}"))
            .to_owned()
    };
    (line("visits: "), line("visit keys: "))
}

#[sqlx::test(migrations = "../migrations")]
async fn values_outlive_requests_and_restarts_and_stay_with_their_app(db: PgPool) {
    let world = World::new(db.clone()).await;
    let first = world.scene("private").await.app;
    let second = world.scene("private").await.app;
    let (first_slug, second_slug) = (slug_of(&db, first).await, slug_of(&db, second).await);
    deployed(&world.owner, first, component(CAPABILITIES)).await;
    deployed(&world.owner, second, component(CAPABILITIES)).await;

    assert_eq!(visits(&world.server, &first_slug, false).await, ("1".into(), "visit/1".into()));
    assert_eq!(visits(&world.server, &first_slug, true).await, ("2".into(), "visit/1,visit/2".into()));
    assert_eq!(
        visits(&world.server, &second_slug, false).await,
        ("1".into(), "visit/1".into()),
        "the other app has its own keys"
    );

    // Another apps service on the same database (a restart, or a second `vibe serve`) reads on.
    let restarted = TestServer::start(db.clone()).await;
    restarted.state.apps.load_all().await.unwrap();
    assert_eq!(visits(&restarted, &first_slug, false).await, ("3".into(), "visit/1,visit/2,visit/3".into()));
    assert_eq!(visits(&world.server, &first_slug, true).await.0, "4", "and the first server sees it");
    assert_eq!(visits(&restarted, &second_slug, true).await.0, "2");

    let stored: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT app_id, count(*) FROM app_kv GROUP BY app_id ORDER BY count(*) DESC")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(stored, [(first, 5), (second, 3)], "visits + visit/n per app, no huge value");
    let usage: i64 = sqlx::query_scalar("SELECT bytes FROM app_kv_usage WHERE app_id = $1")
        .bind(first)
        .fetch_one(&db)
        .await
        .unwrap();
    let actual: i64 = sqlx::query_scalar(
        "SELECT sum(octet_length(key) + octet_length(value))::bigint FROM app_kv WHERE app_id = $1",
    )
    .bind(first)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(usage, actual, "the quota counts exactly what is stored");

    let response = world.owner.delete(&format!("/api/apps/{first}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let left: Vec<Uuid> =
        sqlx::query_scalar("SELECT DISTINCT app_id FROM app_kv").fetch_all(&db).await.unwrap();
    assert_eq!(left, [second], "a deleted app's keys go with it");
}

#[sqlx::test(migrations = "../migrations")]
async fn sizes_and_the_quota_are_enforced_per_app(db: PgPool) {
    let owner: Uuid = sqlx::query_scalar(
        "INSERT INTO users (id, email) VALUES (gen_random_uuid(), 'o@example.com') RETURNING id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let (one, two) = (new_app(&db, owner, "one").await, new_app(&db, owner, "two").await);
    let limits = KvLimits { max_key_bytes: 8, max_value_bytes: 10, max_total_bytes: 30 };
    let kv = PgKv::new(db.clone(), one, limits);
    let other = PgKv::new(db.clone(), two, limits);

    assert!(
        matches!(kv.set("a-long-key", b"1".to_vec()).await, Err(KvError::TooLarge(m)) if m.contains("8 bytes"))
    );
    assert!(matches!(kv.set("k", vec![0; 11]).await, Err(KvError::TooLarge(m)) if m.contains("10 bytes")));
    kv.set("a/1", vec![1; 10]).await.unwrap(); // 13 bytes
    kv.set("a/2", vec![2; 10]).await.unwrap(); // 26 bytes
    let refused = kv.set("a/3", vec![3; 2]).await; // would be 31
    assert!(matches!(refused, Err(KvError::QuotaExceeded(ref m)) if m.contains("30 bytes")), "{refused:?}");
    assert_eq!(kv.get("a/3").await.unwrap(), None, "a refused write leaves nothing");
    kv.set("a/2", vec![2; 5]).await.unwrap(); // replacing counts the difference: 21 bytes
    kv.set("a/3", vec![3; 5]).await.unwrap(); // 29 bytes
    assert_eq!(kv.usage().await.unwrap(), (29, 3));
    kv.delete("a/1").await.unwrap();
    kv.delete("a/1").await.unwrap();
    kv.delete("never-set").await.unwrap();
    assert_eq!(kv.usage().await.unwrap(), (16, 2), "a delete gives its bytes back once");
    kv.set("b\u{0}", b"nul".to_vec()).await.unwrap();
    assert_eq!(kv.get("b\u{0}").await.unwrap(), Some(b"nul".to_vec()), "any string is a key");
    assert_eq!(kv.list_keys("a/").await.unwrap(), ["a/2", "a/3"]);
    assert_eq!(kv.list_keys("").await.unwrap(), ["a/2", "a/3", "b\u{0}"]);

    // The other app's store is empty and has its whole quota.
    assert_eq!(other.list_keys("").await.unwrap(), Vec::<String>::new());
    assert_eq!(other.get("a/2").await.unwrap(), None);
    other.set("a/2", vec![9; 10]).await.unwrap();
    other.set("x", vec![9; 10]).await.unwrap();
    assert_eq!(kv.get("a/2").await.unwrap(), Some(vec![2; 5]), "its own value is untouched");

    // Writers racing for the last bytes: the quota holds.
    let racing = Arc::new(PgKv::new(db.clone(), two, limits));
    let writes = (0..12).map(|i| {
        let kv = racing.clone();
        tokio::spawn(async move { kv.set(&format!("r{i}"), vec![0; 2]).await })
    });
    let results = futures::future::join_all(writes).await;
    let stored = results.iter().filter(|result| matches!(result, Ok(Ok(())))).count();
    assert_eq!(stored, 1, "one 4-byte entry fits the 6 bytes left: {results:?}");
    let (bytes, keys) = racing.usage().await.unwrap();
    let actual: i64 = sqlx::query_scalar(
        "SELECT sum(octet_length(key) + octet_length(value))::bigint FROM app_kv WHERE app_id = $1",
    )
    .bind(two)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((bytes, keys), (actual, 3));
    assert!(bytes <= 30);

    // An app deleted meanwhile gets a clean error, not a half write.
    sqlx::query("DELETE FROM apps WHERE id = $1").bind(one).execute(&db).await.unwrap();
    let gone = kv.set("late", b"x".to_vec()).await;
    assert!(matches!(gone, Err(KvError::Unavailable(ref m)) if m.contains("no longer exists")), "{gone:?}");
}
