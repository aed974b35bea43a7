//! Durable jobs in Postgres: work that outlives the process (and the request) that started it.
//!
//! A job is a row of `jobs` (kind, JSON payload, a unique idempotency key). Every `vibe serve` process
//! runs [`Workers`] that claim due jobs with `FOR UPDATE SKIP LOCKED` (two workers never take the same
//! job), hold a lease they renew while the job runs, and retry a job that failed with something that may
//! pass (exponential backoff, up to its `max_attempts`). A job whose lease ran out (its process was
//! killed) is claimed again by any worker. Enqueueing `NOTIFY`s the workers of every process, so a job
//! starts at once; a slow poll only catches delayed retries and missed notifications. Jobs that share a
//! serial key (a session's turns) run one at a time, in the order they were enqueued.
//!
//! Exactly-once effects: each claim carries a fresh token. A handler commits the job's effects in one
//! transaction that also marks the job done ([`queue::finish_in`]) under that token; if the lease was
//! taken over meanwhile, the token no longer matches, the transaction rolls back and nothing is applied
//! twice. A job kind is one [`JobHandler`]; the conversation engine adds `agent_turn`, the build pipeline
//! adds its own.

pub mod queue;
mod worker;

use async_trait::async_trait;
use uuid::Uuid;

pub use queue::{NewJob, enqueue_in};
pub use worker::{WorkerConfig, Workers};

/// The Postgres channel enqueued jobs are announced on; the payload is the job's kind.
pub const CHANNEL: &str = "vibe_jobs";

/// A job as a worker holds it: claimed, with the token its effects must commit under.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    /// This attempt's number, from 1.
    pub attempts: i32,
    pub max_attempts: i32,
    /// Proves the claim is still this worker's; see [`queue::finish_in`].
    pub claim_token: Uuid,
}

impl ClaimedJob {
    /// Whether this is the job's last allowed attempt.
    pub fn last_attempt(&self) -> bool {
        self.attempts >= self.max_attempts
    }
}

/// How a job's run ended, when not with its effects committed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// Something that may pass (the database unreachable, the agents busy): run it again later.
    #[error("{0}")]
    Retry(String),
    /// The lease was taken over by another worker, which now owns the job: this run's effects were
    /// rolled back and the job is left alone.
    #[error("the job's lease was taken over by another worker")]
    LeaseLost,
}

impl From<sqlx::Error> for JobError {
    fn from(error: sqlx::Error) -> Self {
        JobError::Retry(format!("database: {error}"))
    }
}

/// Runs the jobs of one kind.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The kind of job it runs (`agent_turn`).
    fn kind(&self) -> &'static str;

    /// Runs `job`. Success means its effects were committed together with [`queue::finish_in`]; a
    /// failure that must not be retried is also committed by the handler (its record of the failure
    /// with [`queue::fail_in`]) and returns `Ok`.
    async fn run(&self, job: &ClaimedJob) -> Result<(), JobError>;

    /// Records that `job` failed for good after its last attempt (`reason`: the last error), together
    /// with [`queue::fail_in`].
    async fn give_up(&self, job: &ClaimedJob, reason: &str) -> Result<(), JobError>;
}
