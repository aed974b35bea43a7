//! The workers of one process: a few tasks that claim and run jobs, woken by `NOTIFY` when a job is
//! enqueued anywhere in the cluster, and a slow poll for delayed retries and expired leases.
//!
//! While a job runs, its lease is renewed every third of the lease. On shutdown the workers stop
//! claiming; a running job gets a grace period to finish, after which it is released to the queue
//! (another process, or this one after a restart, runs it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{CHANNEL, ClaimedJob, JobError, JobHandler, queue};

/// How the workers of a process behave.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at once.
    pub concurrency: usize,
    /// How long a claim lasts without renewal.
    pub lease: Duration,
    /// How often an idle worker looks for due jobs without being woken.
    pub poll: Duration,
    /// The first retry's delay; each further one doubles it.
    pub backoff_base: Duration,
    /// The longest delay between retries.
    pub backoff_ceiling: Duration,
    /// How long a running job may take to finish once shutdown began.
    pub shutdown_grace: Duration,
    /// Names this process in `jobs.lease_owner`.
    pub owner: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 2,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(2),
            backoff_base: Duration::from_secs(1),
            backoff_ceiling: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(10),
            owner: format!("vibe-{}-{}", std::process::id(), Uuid::new_v4().simple()),
        }
    }
}

/// The running workers of this process.
pub struct Workers {
    stopping: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    listener: JoinHandle<()>,
}

struct Shared {
    db: PgPool,
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    kinds: Vec<String>,
    config: WorkerConfig,
    wake: Notify,
}

impl Workers {
    /// Starts `config.concurrency` workers running the jobs of `handlers`' kinds.
    pub async fn start(
        db: PgPool,
        handlers: Vec<Arc<dyn JobHandler>>,
        config: WorkerConfig,
    ) -> anyhow::Result<Workers> {
        let handlers: HashMap<String, Arc<dyn JobHandler>> =
            handlers.into_iter().map(|handler| (handler.kind().to_owned(), handler)).collect();
        let kinds = handlers.keys().cloned().collect();
        let listener = listen(&db).await?;
        let (stopping, _) = watch::channel(false);
        let shared = Arc::new(Shared { db, handlers, kinds, config, wake: Notify::new() });
        let tasks = (0..shared.config.concurrency.max(1))
            .map(|_| tokio::spawn(work(shared.clone(), stopping.subscribe())))
            .collect();
        let listener = tokio::spawn(wake_on_notify(listener, shared));
        Ok(Workers { stopping, tasks, listener })
    }

    /// Stops claiming, lets running jobs finish (or releases them after the grace period) and waits
    /// for every worker to end.
    pub async fn shutdown(self) {
        self.stopping.send_replace(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.listener.abort();
    }
}

/// Wakes idle workers when a job is enqueued; after a lost connection, wakes them anyway (a job may
/// have been announced meanwhile).
async fn wake_on_notify(mut listener: PgListener, shared: Arc<Shared>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) | Ok(None) => shared.wake.notify_waiters(),
            Err(_) if shared.db.is_closed() => return,
            Err(error) => {
                tracing::warn!(error = %error, "job listener error; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
                match listen(&shared.db).await {
                    Ok(fresh) => {
                        listener = fresh;
                        shared.wake.notify_waiters();
                    }
                    Err(error) => tracing::warn!(error = %error, "job listener reconnect failed"),
                }
            }
        }
    }
}

async fn listen(db: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(db).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn work(shared: Arc<Shared>, mut stopping: watch::Receiver<bool>) {
    loop {
        if *stopping.borrow() {
            return;
        }
        // Registered before looking, so a job enqueued while we look still wakes us.
        let woken = shared.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        match queue::claim(&shared.db, &shared.config.owner, &shared.kinds, shared.config.lease).await {
            Ok(Some(job)) => {
                run_one(&shared, job, &mut stopping).await;
                continue;
            }
            Ok(None) => {}
            Err(error) if shared.db.is_closed() => {
                tracing::debug!(error = %error, "job worker stops: the pool is closed");
                return;
            }
            Err(error) => tracing::warn!(error = %error, "claiming a job failed"),
        }
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep(shared.config.poll) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}

#[tracing::instrument(skip_all, fields(job = %job.id, kind = %job.kind, attempt = job.attempts))]
async fn run_one(shared: &Shared, job: ClaimedJob, stopping: &mut watch::Receiver<bool>) {
    let Some(handler) = shared.handlers.get(&job.kind).cloned() else {
        // Claims are filtered by kind, so this is a bug; the job waits for a worker that knows it.
        tracing::error!("claimed a job of a kind this worker does not run");
        let _ = queue::release(&shared.db, &job).await;
        return;
    };
    if job.attempts > job.max_attempts {
        // Its earlier workers all died holding it (a job that brings its process down, say): stop here.
        retry_or_give_up(shared, &handler, &job, "the job's workers stopped while running it").await;
        return;
    }
    let running = {
        let (handler, job) = (handler.clone(), job.clone());
        tokio::spawn(async move { handler.run(&job).await })
    };
    let outcome = supervise(shared, &job, running, stopping).await;
    match outcome {
        Supervised::Ended(Ok(())) => {}
        Supervised::Ended(Err(JobError::LeaseLost)) => {
            tracing::warn!("the job's lease was taken over; this run's effects were not applied");
        }
        Supervised::Ended(Err(JobError::Retry(reason))) => {
            retry_or_give_up(shared, &handler, &job, &reason).await
        }
        Supervised::Released => {
            if let Err(error) = queue::release(&shared.db, &job).await {
                tracing::warn!(error = %error, "releasing the job failed; its lease will expire");
            }
        }
    }
}

enum Supervised {
    Ended(Result<(), JobError>),
    /// Shutdown's grace ran out: the run was stopped and the job must go back to the queue.
    Released,
}

/// Waits for `running`, renewing the lease, and stops it when shutdown's grace period is over.
async fn supervise(
    shared: &Shared,
    job: &ClaimedJob,
    mut running: JoinHandle<Result<(), JobError>>,
    stopping: &mut watch::Receiver<bool>,
) -> Supervised {
    let renew_every = shared.config.lease / 3;
    let heartbeat = async {
        loop {
            tokio::time::sleep(renew_every).await;
            match queue::renew(&shared.db, job, shared.config.lease).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        "the job's lease was lost; letting the run end, its effects will be refused"
                    );
                    std::future::pending::<()>().await;
                }
                Err(error) => tracing::warn!(error = %error, "renewing a job's lease failed"),
            }
        }
    };
    let grace_over = async {
        let _ = stopping.wait_for(|stop| *stop).await;
        tokio::time::sleep(shared.config.shutdown_grace).await;
    };
    tokio::select! {
        joined = &mut running => Supervised::Ended(match joined {
            Ok(result) => result,
            Err(error) => Err(JobError::Retry(format!("the job's handler stopped: {error}"))),
        }),
        () = heartbeat => Supervised::Ended(Err(JobError::LeaseLost)),
        () = grace_over => {
            running.abort();
            // An effects transaction cut off mid-way rolls back; one that committed holds the row.
            let _ = running.await;
            Supervised::Released
        }
    }
}

async fn retry_or_give_up(shared: &Shared, handler: &Arc<dyn JobHandler>, job: &ClaimedJob, reason: &str) {
    if job.last_attempt() {
        tracing::warn!(reason, "the job failed on its last attempt");
        match handler.give_up(job, reason).await {
            Ok(()) | Err(JobError::LeaseLost) => {}
            Err(JobError::Retry(error)) => {
                tracing::error!(error, "recording a job's failure failed; marking it failed");
                if let Err(error) = queue::fail(&shared.db, job, reason).await {
                    tracing::error!(error = %error, "marking a job failed failed; its lease will expire");
                }
            }
        }
        return;
    }
    let delay = queue::backoff(job.attempts, shared.config.backoff_base, shared.config.backoff_ceiling);
    tracing::info!(reason, delay_ms = delay.as_millis() as u64, "the job will be retried");
    if let Err(error) = queue::reschedule(&shared.db, job, reason, delay).await {
        tracing::warn!(error = %error, "rescheduling a job failed; its lease will expire");
    }
}
