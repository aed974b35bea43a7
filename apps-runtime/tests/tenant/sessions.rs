//! What an app sees through its sessions: typed values both ways, result limits, transactions,
//! and nothing of one request left for the next.

use sqlx::PgPool;
use vibe_apps_runtime::tenant::TenantSettings;
use vibe_apps_runtime::{DbError, DbValue as V};

use crate::support::{Apps, code, settings, text, texts};

#[sqlx::test]
async fn every_value_round_trips(db: PgPool) {
    let apps = Apps::start(db).await;
    let mut a = apps.session(apps.a).await;
    a.execute(
        "CREATE TABLE v (b boolean, i int8, i4 int4, i2 int2, f float8, f4 real, n numeric, t text, vc varchar(20), \
         c char(3), u uuid, bin bytea, jb jsonb, js json, ts timestamptz, tsn timestamp, d date)",
        vec![],
    )
    .await
    .unwrap();
    let params = vec![
        V::Boolean(true),
        V::Int64(-9_007_199_254_740_993),
        V::Int64(2_147_483_647),
        V::Int64(-32_768),
        V::Float64(1.5e-300),
        V::Float64(0.25),
        V::Float64(-12_345.678),
        text("héllo, 'world' \u{1F600}"),
        text("varchar"),
        text("abc"),
        text("67e55044-10b1-426f-9247-bb680e5fe0c8"),
        V::Bytes(vec![0, 1, 2, 255]),
        V::Json(r#"{"a": [1, 2, null]}"#.to_owned()),
        V::Json(r#"{"kept":   "as written"}"#.to_owned()),
        V::Timestamp(1_700_000_000_123_456),
        V::Timestamp(-1_000_000),
        V::Timestamp(86_400_000_000 * 19_000),
    ];
    let inserted = a
        .execute(
            "INSERT INTO v VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::uuid, $12, $13, $14, $15, $16, $17)",
            params.clone(),
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    let rows = a.query("SELECT * FROM v", vec![]).await.unwrap();
    assert_eq!(
        rows.columns,
        ["b", "i", "i4", "i2", "f", "f4", "n", "t", "vc", "c", "u", "bin", "jb", "js", "ts", "tsn", "d"]
    );
    let mut expected = params;
    expected[13] = V::Json(r#"{"kept": "as written"}"#.to_owned()); // bound as jsonb, normalised
    assert_eq!(format!("{:?}", rows.rows), format!("{:?}", [expected]));

    // Null binds untyped, so the server infers its type; null columns come back null.
    a.execute("INSERT INTO v (b, i, d) VALUES ($1, $2, $3)", vec![V::Null, V::Null, V::Null]).await.unwrap();
    let nulls = a.query("SELECT b, i, d FROM v WHERE i IS NULL", vec![]).await.unwrap();
    assert_eq!(format!("{:?}", nulls.rows), format!("{:?}", [[V::Null, V::Null, V::Null]]));

    // Enums and domains arrive as their labels and base types; infinity at the extremes.
    a.execute("CREATE TYPE mood AS ENUM ('calm', 'busy')", vec![]).await.unwrap();
    a.execute("CREATE DOMAIN positive AS int4 CHECK (VALUE > 0)", vec![]).await.unwrap();
    let special = a
        .query("SELECT 'busy'::mood AS m, 7::positive AS p, 'infinity'::timestamptz AS inf, 'NaN'::numeric AS nan", vec![])
        .await
        .unwrap();
    assert_eq!(
        format!("{:?}", &special.rows[0][..3]),
        format!("{:?}", [text("busy"), V::Int64(7), V::Timestamp(i64::MAX)])
    );
    assert!(matches!(special.rows[0][3], V::Float64(f) if f.is_nan()));
    drop(a);
    apps.finish().await;
}

#[sqlx::test]
async fn unsupported_types_empty_results_and_large_results_are_explained(db: PgPool) {
    let apps = Apps::with(db, TenantSettings { max_result_bytes: 10_000, ..settings() }).await;
    let mut a = apps.session(apps.a).await;
    match a.query("SELECT interval '1 day' AS span", vec![]).await {
        Err(DbError::UnsupportedType(message)) => {
            assert!(message.contains("INTERVAL") && message.contains("\"span\"::text"), "{message}");
        }
        other => panic!("expected unsupported-type, got {:?}", other.map(|rows| rows.rows)),
    }
    assert_eq!(texts(&a.query("SELECT (interval '1 day')::text", vec![]).await.unwrap()), ["1 day"]);
    assert_eq!(code(a.query("SELECT array[1, 2]", vec![]).await), "unsupported-type");

    // No rows still names the columns.
    let empty = a.query("SELECT id, secret FROM t WHERE id = $1", vec![V::Int64(404)]).await.unwrap();
    assert_eq!(empty.columns, ["id", "secret"]);
    assert!(empty.rows.is_empty());

    assert_eq!(
        code(a.query("SELECT repeat('x', 1000) FROM generate_series(1, 100)", vec![]).await),
        "too-large"
    );
    // The connection skips the rest of that result and serves the next statement.
    assert_eq!(texts(&a.query("SELECT secret FROM t", vec![]).await.unwrap()), ["a-secret"]);

    // SQL errors carry their SQLSTATE; the session goes on.
    assert_eq!(code(a.execute("INSERT INTO t VALUES (1, 'duplicate')", vec![]).await), "23505");
    assert_eq!(code(a.query("SELEC 1", vec![]).await), "42601");
    assert_eq!(code(a.query("SELECT $1::int8", vec![text("not a number")]).await), "22P02");
    assert_eq!(code(a.execute("SELECT 1", vec![]).await), "ok: 1");
    drop(a);
    apps.finish().await;
}

#[sqlx::test]
async fn transactions_commit_roll_back_and_never_outlive_the_request(db: PgPool) {
    let apps = Apps::start(db).await;
    let mut a = apps.session(apps.a).await;
    assert_eq!(code(a.commit().await), "transaction-state");
    assert_eq!(code(a.rollback().await), "transaction-state");
    for sql in ["BEGIN", "commit", "/* hidden */ ROLLBACK", "START TRANSACTION"] {
        assert_eq!(code(a.execute(sql, vec![]).await), "transaction-state", "{sql}");
    }

    a.begin().await.unwrap();
    assert_eq!(code(a.begin().await), "transaction-state");
    a.execute("INSERT INTO t VALUES (2, 'rolled back')", vec![]).await.unwrap();
    a.rollback().await.unwrap();
    a.begin().await.unwrap();
    a.execute("INSERT INTO t VALUES (3, 'committed')", vec![]).await.unwrap();
    a.execute("SAVEPOINT s", vec![]).await.unwrap();
    a.execute("INSERT INTO t VALUES (4, 'undone')", vec![]).await.unwrap();
    a.execute("ROLLBACK TO SAVEPOINT s", vec![]).await.unwrap();
    a.commit().await.unwrap();

    // A failed transaction is not committed, and the app is told so.
    a.begin().await.unwrap();
    a.execute("INSERT INTO t VALUES (5, 'lost')", vec![]).await.unwrap();
    assert_eq!(code(a.execute("INSERT INTO t VALUES (1, 'duplicate')", vec![]).await), "23505");
    assert_eq!(code(a.commit().await), "25P02");

    // A transaction left open when the request ends is rolled back, and its locks released.
    a.begin().await.unwrap();
    a.execute("INSERT INTO t VALUES (6, 'abandoned')", vec![]).await.unwrap();
    drop(a);
    let mut next = apps.session(apps.a).await;
    next.execute("INSERT INTO t VALUES (6, 'reused key')", vec![]).await.unwrap();
    let rows = next.query("SELECT secret FROM t ORDER BY id", vec![]).await.unwrap();
    assert_eq!(texts(&rows), ["a-secret", "committed", "reused key"]);
    drop(next);
    apps.assert_intact().await;
    apps.finish().await;
}

#[sqlx::test]
async fn nothing_of_a_request_reaches_the_next(db: PgPool) {
    // One connection per app, so the next request gets the very same backend.
    let apps = Apps::with(db, TenantSettings { connections_per_app: 1, ..settings() }).await;
    let mut first = apps.session(apps.a).await;
    let pid = first.query("SELECT pg_backend_pid()::int8", vec![]).await.unwrap();
    for sql in [
        "SET statement_timeout = 0",
        "SET search_path = public",
        "SET application_name = 'leaked'",
        "SET client_min_messages = debug5",
        "PREPARE leaked AS SELECT 1",
        "LISTEN leaked",
    ] {
        first.execute(sql, vec![]).await.unwrap();
    }
    first.query("SELECT set_config('leak.marker', 'leaked', false)", vec![]).await.unwrap();
    drop(first);

    let mut next = apps.session(apps.a).await;
    let again = next.query("SELECT pg_backend_pid()::int8", vec![]).await.unwrap();
    assert_eq!(format!("{:?}", again.rows), format!("{:?}", pid.rows));
    let state = next
        .query(
            "SELECT current_setting('statement_timeout'), current_setting('search_path'), \
             current_setting('application_name'), current_setting('client_min_messages'), \
             coalesce(current_setting('leak.marker', true), ''), \
             (SELECT count(*)::text FROM pg_prepared_statements), (SELECT count(*)::text FROM pg_listening_channels())",
            vec![],
        )
        .await
        .unwrap();
    let role = apps.role(apps.a);
    let expected = ["30s", role.as_str(), "vibe-app", "error", "", "0", "0"].map(text);
    assert_eq!(format!("{:?}", state.rows[0]), format!("{expected:?}"));
    drop(next);
    apps.finish().await;
}
