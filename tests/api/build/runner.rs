//! The test runner against real PostgreSQL and real components: the SDK's guestbook under a
//! hand-written plan (what the code generator derives for its apps), next to a live copy of the
//! same app that must not notice; then the runs that go wrong (a failing migration, a hanging app,
//! a run cancelled halfway), each of which must still leave no schema or role behind.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::apps::deploy::{Migration, NewVersion};
use vibe_host::build::plan::{Body, Step, TestCase, TestPlan, Visitor};
use vibe_host::build::runner;
use vibe_test_components::{LOOP, SDK_EXAMPLE_GUESTBOOK};

use crate::app_hosting::{answer, component, eventually, new_app, via_path};
use crate::support::TestServer;

/// The guestbook's one migration.
fn guestbook_migrations() -> Vec<Migration> {
    let sql = include_str!("../../../sdk/examples/guestbook/migrations/0001_entries.sql");
    vec![Migration { name: "0001_entries.sql".to_owned(), sql: sql.to_owned() }]
}

/// A step that expects `status` and nothing else yet.
fn step(method: &str, path: &str, status: u16) -> Step {
    Step {
        method: method.to_owned(),
        path: path.to_owned(),
        visitor: Visitor::Anonymous,
        body: None,
        expect_status: status,
        expect_contains: Vec::new(),
        expect_absent: Vec::new(),
        capture: Vec::new(),
    }
}

fn case(name: &str, steps: Vec<Step>) -> TestCase {
    TestCase { name: name.to_owned(), steps }
}

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

/// What the code generator would derive for the guestbook, and three cases that must fail.
fn guestbook_plan() -> TestPlan {
    let mut home = step("GET", "/", 200);
    home.expect_contains = texts(&["<h1>Guestbook</h1>", "Sign the book"]);

    let mut create = step("POST", "/api/entries", 201);
    create.visitor = Visitor::SignedIn(1);
    create.body = Some(Body::Json(json!({"name": "Ada", "message": "Hello from the plan", "rating": 5})));
    create.expect_contains = texts(&["\"name\":\"Ada\""]);
    create.capture = vec![("entry_id".to_owned(), "/id".to_owned())];

    let mut read = step("GET", "/api/entries/{entry_id}", 200);
    read.visitor = Visitor::Owner;
    read.expect_contains = texts(&["\"id\":{entry_id}", "Hello from the plan"]);
    let mut page = step("GET", "/entries/{entry_id}", 200);
    page.expect_contains = texts(&["<h1>Ada</h1>", "Rating: 5 of 5"]);

    let mut sign = step("POST", "/entries", 303);
    sign.body = Some(Body::Form(vec![
        ("name".to_owned(), "Grace & co".to_owned()),
        ("message".to_owned(), "Signed after entry {entry_id}".to_owned()),
    ]));
    let mut listed = step("GET", "/api/entries", 200);
    listed.expect_contains = texts(&["Grace & co", "Signed after entry {entry_id}", "Ada"]);

    let mut invalid = step("POST", "/api/entries", 422);
    invalid.body = Some(Body::Json(json!({"name": "", "rating": 9})));
    invalid.expect_contains = texts(&["\"name\":\"is required\"", "must be at most 5"]);
    invalid.expect_absent = texts(&["\"id\":"]);

    let mut wrong_status = step("GET", "/api/entries/{entry_id}", 404);
    wrong_status.expect_contains = texts(&["never checked"]);
    let mut missing_text = step("GET", "/", 200);
    missing_text.expect_contains = texts(&["Welcome to the library"]);
    let unknown_placeholder = step("GET", "/api/entries/{book_id}", 200);

    TestPlan {
        cases: vec![
            case("the home page renders", vec![home]),
            case("an entry is created through the API", vec![create]),
            case("the entry is read back", vec![read, page]),
            case("the form signs the book", vec![sign, listed]),
            case("an invalid entry is refused", vec![invalid]),
            case("a wrong status fails", vec![step("GET", "/", 200), wrong_status]),
            case("a missing text fails", vec![missing_text]),
            case("an unknown placeholder fails", vec![unknown_placeholder]),
            case("cases after failures still run", vec![step("GET", "/api/entries?limit=1", 200)]),
        ],
    }
}

/// The app schemas of the test database, and the app roles made for it (roles are the cluster's:
/// those of other tests' databases are told apart by their comment). A role left behind by an
/// earlier test database of the same name may be listed too, so tests compare with what was
/// there before.
async fn tenants(db: &PgPool) -> (Vec<String>, Vec<String>) {
    let schemas = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname ~ '^app_[0-9a-f]{32}$' ORDER BY 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let roles = sqlx::query_scalar(
        "SELECT r.rolname::text FROM pg_roles r \
         JOIN pg_shdescription d ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass \
         WHERE r.rolname ~ '^app_[0-9a-f]{32}$' \
           AND d.description = 'vibe app role of database ' || current_database() ORDER BY 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    (schemas, roles)
}

/// Deploys the guestbook as a live app with one entry of its own; returns its id.
async fn live_guestbook(server: &TestServer) -> Uuid {
    let owner = server.signup("owner@example.com").await;
    let app = new_app(&server.db, owner.id, "live-book").await;
    let version = NewVersion {
        component: component(SDK_EXAMPLE_GUESTBOOK),
        migrations: guestbook_migrations(),
        config: BTreeMap::from([("title".to_owned(), "The live book".to_owned())]),
        build_id: None,
    };
    server.state.apps.deploy(app, version).await.expect("the live guestbook deploys");
    sqlx::query(&format!("INSERT INTO app_{}.entries (name, message) VALUES ('Live', 'kept')", app.simple()))
        .execute(&server.db)
        .await
        .unwrap();
    app
}

#[sqlx::test(migrations = "../migrations")]
async fn the_guestbook_plan_runs_on_a_throw_away_schema_and_leaves_the_live_app_alone(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let live = live_guestbook(&server).await;
    let before = tenants(&db).await;
    let live_tenant = format!("app_{}", live.simple());
    assert_eq!(before.0, std::slice::from_ref(&live_tenant));
    assert!(before.1.contains(&live_tenant), "{before:?}");

    let plan = guestbook_plan();
    let bytes = component(SDK_EXAMPLE_GUESTBOOK);
    let report = runner::run(&server.state.apps, &bytes, &guestbook_migrations(), &plan).await.unwrap();

    let outcomes: Vec<(&str, bool)> = report.cases.iter().map(|c| (c.name.as_str(), c.passed)).collect();
    assert_eq!(
        outcomes,
        [
            ("the home page renders", true),
            ("an entry is created through the API", true),
            ("the entry is read back", true),
            ("the form signs the book", true),
            ("an invalid entry is refused", true),
            ("a wrong status fails", false),
            ("a missing text fails", false),
            ("an unknown placeholder fails", false),
            ("cases after failures still run", true),
        ],
        "{report:#?}"
    );
    assert_eq!((report.passed, report.failed), (6, 3));
    assert!(!report.is_green());
    for passed in report.cases.iter().filter(|c| c.passed) {
        assert_eq!(passed.failure, None);
    }
    // The throw-away schema starts empty: the plan's entry is the first, not the live app's.
    let failure = |name: &str| report.cases.iter().find(|c| c.name == name).unwrap().failure.clone().unwrap();
    let wrong_status = failure("a wrong status fails");
    assert!(
        wrong_status.starts_with("step 2 (GET /api/entries/1): expected status 404, got 200; body: {"),
        "{wrong_status}"
    );
    assert!(wrong_status.contains("Hello from the plan"), "the body excerpt: {wrong_status}");
    let missing_text = failure("a missing text fails");
    assert!(
        missing_text
            .starts_with("step 1 (GET /): the body lacks \"Welcome to the library\"; body: Guestbook"),
        "the excerpt of a page is its text: {missing_text}"
    );
    let unknown = failure("an unknown placeholder fails");
    assert_eq!(
        unknown,
        "step 1 (GET /api/entries/{book_id}): {book_id} was not captured by any earlier step"
    );
    assert!(report.cases.iter().all(|c| c.duration_ms < 60_000));

    assert_eq!(tenants(&db).await, before, "the throw-away schema and role are gone");
    let live_rows: Vec<String> =
        sqlx::query_scalar(&format!("SELECT name FROM app_{}.entries ORDER BY id", live.simple()))
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(live_rows, ["Live"], "the live app's data is untouched");
    let listed = eventually("the live app to answer", || async {
        let (status, body) =
            answer(via_path(&server, Method::GET, "live-book", "/api/entries", "").await).await;
        (status == StatusCode::OK).then_some(body)
    })
    .await;
    assert!(listed.contains("\"name\":\"Live\"") && !listed.contains("Ada"), "{listed}");
    assert_eq!(server.state.apps.registry().by_slug("live-book").map(|app| app.app_id), Some(live));
    let kv: i64 = sqlx::query_scalar("SELECT count(*) FROM app_kv").fetch_one(&db).await.unwrap();
    let visits: i64 = sqlx::query_scalar("SELECT count(*) FROM app_kv WHERE app_id = $1")
        .bind(live)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(kv, visits, "the test run's visits went to its own in-memory store");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failing_migration_is_an_error_and_leaves_nothing_behind(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let before = tenants(&db).await;
    let mut migrations = guestbook_migrations();
    migrations.push(Migration {
        name: "0002_broken.sql".to_owned(),
        sql: "ALTER TABLE entries ADD COLUMN shelf_id bigint REFERENCES shelves (id);".to_owned(),
    });
    let plan = TestPlan { cases: vec![case("home", vec![step("GET", "/", 200)])] };
    let bytes = component(SDK_EXAMPLE_GUESTBOOK);
    let error = runner::run(&server.state.apps, &bytes, &migrations, &plan).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("applying the migrations"), "{message}");
    assert!(message.contains("0002_broken.sql") && message.contains("shelves"), "{message}");
    assert_eq!(tenants(&db).await, before);

    let error = runner::run(&server.state.apps, b"not a component", &[], &plan).await.unwrap_err();
    assert!(format!("{error:#}").contains("loading the component"), "{error:#}");
    assert_eq!(tenants(&db).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_hanging_app_is_cut_off_by_the_time_limit(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let before = tenants(&db).await;
    let spinner = component(LOOP);
    // Compiles the component once, so that the timed run spends its time on the requests.
    let empty = runner::run(&server.state.apps, &spinner, &[], &TestPlan::default()).await.unwrap();
    assert_eq!((empty.passed, empty.failed), (0, 0));
    assert!(!empty.is_green(), "a plan without tests is not green");

    // The runtime stops the loop after a second of CPU, so no earlier than a second after the
    // request starts: the run's limit of one second, counted from before it, comes first.
    let plan = TestPlan {
        cases: vec![case("spins", vec![step("GET", "/", 200)]), case("after", vec![step("GET", "/", 200)])],
    };
    // A machine too busy to provision the schema within the second fails the run before its
    // cases (an error, checked below); that is retried, a report is what this test is about.
    let mut attempts = 0;
    let (report, took) = loop {
        attempts += 1;
        let started = Instant::now();
        match runner::run_within(&server.state.apps, &spinner, &[], &plan, Duration::from_secs(1)).await {
            Ok(report) => break (report, started.elapsed()),
            Err(error) if attempts < 3 && format!("{error:#}").contains("ran out while preparing") => {}
            Err(error) => panic!("{error:#}"),
        }
    };
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert_eq!((report.passed, report.failed), (0, 2));
    assert_eq!(
        report.cases[0].failure.as_deref(),
        Some("step 1 (GET /): the test run's time limit ran out while waiting for the answer")
    );
    assert_eq!(
        report.cases[1].failure.as_deref(),
        Some("not run: the test run's time limit (1 s) ran out before it")
    );
    assert_eq!(tenants(&db).await, before);

    let error =
        runner::run_within(&server.state.apps, &spinner, &[], &plan, Duration::ZERO).await.unwrap_err();
    assert!(format!("{error:#}").contains("ran out while preparing"), "{error:#}");
    assert_eq!(tenants(&db).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_cancelled_run_still_drops_its_schema(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let before = tenants(&db).await;
    let apps = server.state.apps.clone();
    let plan = TestPlan {
        cases: (0..20).map(|n| case(&format!("spin {n}"), vec![step("GET", "/", 200)])).collect(),
    };
    let running = tokio::spawn(async move {
        let spinner = component(LOOP);
        runner::run(&apps, &spinner, &[], &plan).await
    });
    eventually("the throw-away schema to exist", || async {
        (tenants(&db).await.0 != before.0).then_some(())
    })
    .await;
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    eventually("the throw-away schema and role to be dropped", || async {
        (tenants(&db).await == before).then_some(())
    })
    .await;
}
