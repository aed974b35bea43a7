//! The job table's operations: enqueue, claim, renew, and the ways a claim ends (done, failed,
//! rescheduled, released). Every operation on a claimed job names its claim token, so a worker whose
//! lease was taken over changes nothing.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{CHANNEL, ClaimedJob, JobError};

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    pub payload: serde_json::Value,
    /// Enqueueing the same key again does nothing: the work is already there.
    pub idempotency_key: String,
    /// Jobs with the same serial key run one at a time, in the order they were enqueued.
    pub serial_key: Option<String>,
    pub max_attempts: i32,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Enqueues `job` within the caller's transaction (so the job exists exactly when the work that asked
/// for it does) and wakes the workers when it commits. Returns the job's id, or `None` when a job with
/// its idempotency key exists already.
pub async fn enqueue_in(conn: &mut PgConnection, job: &NewJob) -> sqlx::Result<Option<Uuid>> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO jobs (id, kind, payload, idempotency_key, serial_key, max_attempts) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(job.kind)
    .bind(&job.payload)
    .bind(&job.idempotency_key)
    .bind(&job.serial_key)
    .bind(job.max_attempts.max(1))
    .fetch_optional(&mut *conn)
    .await?;
    if id.is_some() {
        // Delivered when the transaction commits, and not at all if it rolls back.
        sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(job.kind).execute(&mut *conn).await?;
    }
    Ok(id)
}

/// Claims one due job of `kinds` for `owner`: a queued job whose time has come, or a running one whose
/// lease ran out (its worker died). Locked rows are skipped, so concurrent claims never get the same job;
/// a job waits while an earlier one of its serial key is unfinished.
pub async fn claim(
    db: &PgPool,
    owner: &str,
    kinds: &[String],
    lease: Duration,
) -> sqlx::Result<Option<ClaimedJob>> {
    sqlx::query_as(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1, \
             lease_expires_at = now() + make_interval(secs => $2::float8 / 1000), claim_token = $3, \
             updated_at = now() \
         WHERE id = ( \
             SELECT j.id FROM jobs j \
             WHERE j.kind = ANY($4) AND ((j.status = 'queued' AND j.run_after <= now()) \
                                        OR (j.status = 'running' AND j.lease_expires_at < now())) \
               AND (j.serial_key IS NULL OR NOT EXISTS ( \
                   SELECT 1 FROM jobs e WHERE e.serial_key = j.serial_key AND e.id < j.id \
                   AND e.status IN ('queued', 'running'))) \
             ORDER BY j.run_after, j.created_at LIMIT 1 FOR UPDATE OF j SKIP LOCKED) \
         RETURNING id, kind, payload, attempts, max_attempts, claim_token",
    )
    .bind(owner)
    .bind(millis(lease) as f64)
    .bind(Uuid::new_v4())
    .bind(kinds)
    .fetch_optional(db)
    .await
}

/// Extends the lease of `job` by `lease` from now; false when the claim is no longer this worker's.
pub async fn renew(db: &PgPool, job: &ClaimedJob, lease: Duration) -> sqlx::Result<bool> {
    let renewed = sqlx::query(
        "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3::float8 / 1000), updated_at = now() \
         WHERE id = $1 AND claim_token = $2 AND status = 'running'",
    )
    .bind(job.id)
    .bind(job.claim_token)
    .bind(millis(lease) as f64)
    .execute(db)
    .await?;
    Ok(renewed.rows_affected() == 1)
}

/// Marks `job` done inside the transaction that commits its effects. Call it first in that transaction:
/// it locks the job's row, so no other worker can claim the job until the effects are committed, and
/// it fails with [`JobError::LeaseLost`] when another worker already has (the caller then rolls back).
pub async fn finish_in(conn: &mut PgConnection, job: &ClaimedJob) -> Result<(), JobError> {
    end_in(conn, job, "done", None).await
}

/// Marks `job` failed for good (with `error`) inside the transaction that records the failure.
pub async fn fail_in(conn: &mut PgConnection, job: &ClaimedJob, error: &str) -> Result<(), JobError> {
    end_in(conn, job, "failed", Some(error)).await
}

async fn end_in(
    conn: &mut PgConnection,
    job: &ClaimedJob,
    status: &str,
    error: Option<&str>,
) -> Result<(), JobError> {
    let ended = sqlx::query(
        "UPDATE jobs SET status = $3, last_error = COALESCE($4, last_error), finished_at = now(), \
             updated_at = now(), lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = $1 AND claim_token = $2 AND status = 'running'",
    )
    .bind(job.id)
    .bind(job.claim_token)
    .bind(status)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    if ended.rows_affected() == 1 { Ok(()) } else { Err(JobError::LeaseLost) }
}

/// Puts `job` back in the queue to run again after `delay`, recording `error`.
pub async fn reschedule(db: &PgPool, job: &ClaimedJob, error: &str, delay: Duration) -> sqlx::Result<bool> {
    let rescheduled = sqlx::query(
        "UPDATE jobs SET status = 'queued', last_error = $3, \
             run_after = now() + make_interval(secs => $4::float8 / 1000), \
             lease_owner = NULL, lease_expires_at = NULL, claim_token = NULL, updated_at = now() \
         WHERE id = $1 AND claim_token = $2 AND status = 'running'",
    )
    .bind(job.id)
    .bind(job.claim_token)
    .bind(error)
    .bind(millis(delay) as f64)
    .execute(db)
    .await?;
    Ok(rescheduled.rows_affected() == 1)
}

/// Gives `job` back unfinished (this process is stopping): due at once, this attempt not counted.
pub async fn release(db: &PgPool, job: &ClaimedJob) -> sqlx::Result<bool> {
    let released = sqlx::query(
        "UPDATE jobs SET status = 'queued', attempts = GREATEST(attempts - 1, 0), run_after = now(), \
             lease_owner = NULL, lease_expires_at = NULL, claim_token = NULL, updated_at = now() \
         WHERE id = $1 AND claim_token = $2 AND status = 'running'",
    )
    .bind(job.id)
    .bind(job.claim_token)
    .execute(db)
    .await?;
    Ok(released.rows_affected() == 1)
}

/// Marks `job` failed with `error`, when its handler could not record the failure itself.
pub async fn fail(db: &PgPool, job: &ClaimedJob, error: &str) -> Result<(), JobError> {
    let mut conn = db.acquire().await?;
    fail_in(&mut conn, job, error).await
}

/// The delay before attempt `attempts + 1`: `base` doubled per attempt already made, at most
/// `ceiling`, with up to a quarter of jitter so that jobs failed together do not retry together.
pub fn backoff(attempts: i32, base: Duration, ceiling: Duration) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(0);
    let delay = base.saturating_mul(1 << exponent).min(ceiling);
    let jitter = rand::random::<f64>() * 0.25;
    delay.mul_f64(1.0 + jitter).min(ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_ceiling() {
        let base = Duration::from_secs(1);
        let ceiling = Duration::from_secs(60);
        let first = backoff(1, base, ceiling);
        assert!(first >= base && first <= base.mul_f64(1.25), "{first:?}");
        let third = backoff(3, base, ceiling);
        assert!(third >= Duration::from_secs(4) && third <= Duration::from_secs(5), "{third:?}");
        assert_eq!(backoff(30, base, ceiling), ceiling);
    }
}
