//! The durable job queue's guarantees, with a job kind of the test's own (`tally`, whose effect is a row
//! committed with the job) and with the real `agent_turn` handler: workers woken by NOTIFY, two workers
//! never running one job, a dead worker's job taken over after its lease, effects applied exactly once
//! under retries and take-overs, and a graceful shutdown that gives a running job back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::conversation::turn::AgentTurns;
use vibe_host::jobs::{ClaimedJob, JobError, JobHandler, NewJob, Workers, enqueue_in, queue};

use super::{idea_and_session, quick_workers, route_echo, say, start_workers, transcript_with};
use crate::support::TestServer;

/// Counts its runs per job and commits one `tally_effects` row per job with the job marked done.
/// Payload: `{"fail_first": true}` fails the first attempt after writing (uncommitted) effects;
/// `{"sleep_ms": n}` makes a run slow.
struct Tally {
    db: PgPool,
    runs: Mutex<HashMap<Uuid, u32>>,
    /// Each run's job, start and end.
    spans: Mutex<Vec<(Uuid, Instant, Instant)>>,
}

#[async_trait]
impl JobHandler for Tally {
    fn kind(&self) -> &'static str {
        "tally"
    }

    async fn run(&self, job: &ClaimedJob) -> Result<(), JobError> {
        *self.runs.lock().unwrap().entry(job.id).or_default() += 1;
        let started = Instant::now();
        let sleep = job.payload["sleep_ms"].as_u64().unwrap_or(20);
        tokio::time::sleep(Duration::from_millis(sleep)).await;
        self.spans.lock().unwrap().push((job.id, started, Instant::now()));
        let mut tx = self.db.begin().await?;
        queue::finish_in(&mut tx, job).await?;
        sqlx::query("INSERT INTO tally_effects (job_id) VALUES ($1)").bind(job.id).execute(&mut *tx).await?;
        if job.payload["fail_first"] == true && job.attempts == 1 {
            // As if the process failed between writing the effects and committing: they roll back.
            return Err(JobError::Retry("simulated failure before the commit".into()));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn give_up(&self, job: &ClaimedJob, reason: &str) -> Result<(), JobError> {
        queue::fail(&self.db, job, reason).await
    }
}

async fn tally(db: &PgPool) -> Arc<Tally> {
    sqlx::query("CREATE TABLE tally_effects (job_id UUID NOT NULL)").execute(db).await.unwrap();
    Arc::new(Tally { db: db.clone(), runs: Mutex::default(), spans: Mutex::default() })
}

async fn enqueue(db: &PgPool, key: &str, payload: serde_json::Value) -> Option<Uuid> {
    enqueue_serial(db, key, None, payload).await
}

async fn enqueue_serial(
    db: &PgPool,
    key: &str,
    serial: Option<&str>,
    payload: serde_json::Value,
) -> Option<Uuid> {
    let mut conn = db.acquire().await.unwrap();
    let job = NewJob {
        kind: "tally",
        payload,
        idempotency_key: key.to_owned(),
        serial_key: serial.map(str::to_owned),
        max_attempts: 3,
    };
    enqueue_in(&mut conn, &job).await.unwrap()
}

async fn until_all_ended(db: &PgPool, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
            .fetch_one(db)
            .await
            .unwrap();
        if open == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{open} jobs still open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn effects(db: &PgPool, job: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tally_effects WHERE job_id = $1")
        .bind(job)
        .fetch_one(db)
        .await
        .unwrap()
}

async fn status(db: &PgPool, job: Uuid) -> (String, i32) {
    sqlx::query_as("SELECT status, attempts FROM jobs WHERE id = $1").bind(job).fetch_one(db).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn two_workers_never_run_the_same_job_and_are_woken_by_notify(db: PgPool) {
    let handler = tally(&db).await;
    // Polls an hour apart: only the NOTIFY of each enqueue can start the jobs in time.
    let slow_poll = |owner: &str| vibe_host::jobs::WorkerConfig {
        concurrency: 3,
        poll: Duration::from_secs(3600),
        ..quick_workers(owner)
    };
    let a = Workers::start(db.clone(), vec![handler.clone()], slow_poll("a")).await.unwrap();
    let b = Workers::start(db.clone(), vec![handler.clone()], slow_poll("b")).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(enqueue(&db, &format!("tally-{n}"), json!({})).await.expect("a new job"));
    }
    assert_eq!(enqueue(&db, "tally-7", json!({})).await, None, "the same work is enqueued once");
    until_all_ended(&db, Duration::from_secs(30)).await;

    let runs = handler.runs.lock().unwrap().clone();
    for id in &ids {
        assert_eq!(runs.get(id), Some(&1), "job {id} ran once");
        assert_eq!(effects(&db, *id).await, 1);
        assert_eq!(status(&db, *id).await, ("done".to_owned(), 1));
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn jobs_of_one_serial_key_run_one_at_a_time_in_order(db: PgPool) {
    let handler = tally(&db).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            enqueue_serial(&db, &format!("turn-{n}"), Some("session:1"), json!({"sleep_ms": 150}))
                .await
                .unwrap(),
        );
    }
    let other = enqueue(&db, "unrelated", json!({"sleep_ms": 150})).await.unwrap();
    let a = Workers::start(db.clone(), vec![handler.clone()], quick_workers("a")).await.unwrap();
    let b = Workers::start(db.clone(), vec![handler.clone()], quick_workers("b")).await.unwrap();
    until_all_ended(&db, Duration::from_secs(30)).await;
    let spans = handler.spans.lock().unwrap().clone();
    let serial: Vec<_> = spans.iter().filter(|(id, _, _)| *id != other).collect();
    assert_eq!(serial.iter().map(|(id, _, _)| *id).collect::<Vec<_>>(), ids, "in the order enqueued");
    for pair in serial.windows(2) {
        assert!(pair[1].1 >= pair[0].2, "one at a time: a run started before the previous ended");
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dead_workers_job_is_taken_over_and_its_late_commit_refused(db: PgPool) {
    let handler = tally(&db).await;
    let id = enqueue(&db, "orphan", json!({})).await.unwrap();
    // A worker claims the job, then dies: it never renews its lease.
    let kinds = vec!["tally".to_owned()];
    let dead = queue::claim(&db, "dead", &kinds, Duration::from_millis(300)).await.unwrap().unwrap();
    assert_eq!(dead.id, id);
    assert!(queue::claim(&db, "other", &kinds, Duration::from_secs(5)).await.unwrap().is_none(), "leased");

    let workers = Workers::start(db.clone(), vec![handler.clone()], quick_workers("alive")).await.unwrap();
    until_all_ended(&db, Duration::from_secs(20)).await;
    assert_eq!(status(&db, id).await, ("done".to_owned(), 2), "taken over on the second attempt");
    assert_eq!(effects(&db, id).await, 1);

    // The dead worker wakes up and tries to commit its run: refused, nothing applied twice.
    let mut tx = db.begin().await.unwrap();
    assert!(matches!(queue::finish_in(&mut tx, &dead).await, Err(JobError::LeaseLost)));
    drop(tx);
    assert!(matches!(handler.run(&dead).await, Err(JobError::LeaseLost)));
    assert_eq!(effects(&db, id).await, 1);
    workers.shutdown().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_retried_job_applies_its_effects_exactly_once(db: PgPool) {
    let handler = tally(&db).await;
    let workers = Workers::start(db.clone(), vec![handler.clone()], quick_workers("w")).await.unwrap();
    let id = enqueue(&db, "flaky", json!({"fail_first": true})).await.unwrap();
    until_all_ended(&db, Duration::from_secs(20)).await;
    assert_eq!(status(&db, id).await, ("done".to_owned(), 2));
    assert_eq!(effects(&db, id).await, 1);
    let last_error: String = sqlx::query_scalar("SELECT last_error FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(last_error, "simulated failure before the commit");
    workers.shutdown().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn shutdown_gives_a_running_job_back_to_the_queue(db: PgPool) {
    let handler = tally(&db).await;
    let config = vibe_host::jobs::WorkerConfig {
        shutdown_grace: Duration::from_millis(200),
        ..quick_workers("leaving")
    };
    let workers = Workers::start(db.clone(), vec![handler.clone()], config).await.unwrap();
    let id = enqueue(&db, "long", json!({"sleep_ms": 60_000})).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&db, id).await.0 != "running" {
        assert!(Instant::now() < deadline, "never claimed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    workers.shutdown().await;
    let (state, attempts, owner): (String, i32, Option<String>) =
        sqlx::query_as("SELECT status, attempts, lease_owner FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts, owner), ("queued", 0, None), "released, the attempt not counted");
    assert_eq!(effects(&db, id).await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_agent_turn_taken_over_from_a_dead_worker_replies_once(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    route_echo(&server).await;
    let alice = server.signup("alice@example.com").await;
    let (idea, session) = idea_and_session(&alice, "Book club").await;
    say(&alice, session, "hello").await;
    let kinds = vec!["agent_turn".to_owned()];
    let dead =
        queue::claim(&db, "dead", &kinds, Duration::from_millis(300)).await.unwrap().expect("the turn's job");

    let _workers = start_workers(&server, "alive").await;
    let transcript = transcript_with(&alice, session, 2).await;
    assert!(transcript["messages"][1]["content"].as_str().unwrap().starts_with("echo: hello"));
    assert_eq!(status(&db, dead.id).await, ("done".to_owned(), 2));

    // The dead worker's run of the same turn completes late: its effects are refused.
    let late = AgentTurns::new(server.state.clone());
    assert!(matches!(late.run(&dead).await, Err(JobError::LeaseLost)));
    let replies: i64 =
        sqlx::query_scalar("SELECT count(*) FROM agent_messages WHERE session_id = $1 AND role = 'agent'")
            .bind(session)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(replies, 1);
    let echoes: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pipeline_artifacts WHERE idea_id = $1 AND name = 'echo'")
            .bind(idea)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(echoes, 1, "the turn's output artifact is written once");
}
