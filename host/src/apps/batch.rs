//! Writing rows in batches, off the request path: requests push rows into a bounded channel (never
//! waiting), and one task per kind of row writes what accumulated every [`INTERVAL`] or every
//! [`MAX_BATCH`] rows, whichever comes first. When the channel is full the row is dropped and
//! counted: analytics and logs must never slow an app down or hold memory without bound.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

/// Rows written at most in one statement.
pub(crate) const MAX_BATCH: usize = 500;
/// How long a row waits at most before it is written.
pub(crate) const INTERVAL: Duration = Duration::from_millis(200);
/// Rows waiting at most; beyond that new rows are dropped.
const CAPACITY: usize = 20_000;

enum Message<T> {
    Row(T),
    /// Write everything queued before this message, then answer.
    Flush(oneshot::Sender<()>),
}

/// The sending side of one batch writer. Cheap to clone.
pub(crate) struct Batcher<T> {
    sender: mpsc::Sender<Message<T>>,
    dropped: Arc<AtomicU64>,
    name: &'static str,
}

impl<T> Clone for Batcher<T> {
    fn clone(&self) -> Self {
        Batcher { sender: self.sender.clone(), dropped: self.dropped.clone(), name: self.name }
    }
}

impl<T: Send + 'static> Batcher<T> {
    /// Starts the task that hands batches to `write`. A failed batch is logged and dropped (its rows
    /// are observations, not records anyone waits for).
    pub(crate) fn start<W, F>(name: &'static str, write: W) -> Self
    where
        W: Fn(Vec<T>) -> F + Send + Sync + 'static,
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (sender, receiver) = mpsc::channel(CAPACITY);
        tokio::spawn(run(name, receiver, write));
        Batcher { sender, dropped: Arc::new(AtomicU64::new(0)), name }
    }

    /// Queues `row` without waiting; drops it when the queue is full.
    pub(crate) fn push(&self, row: T) {
        if self.sender.try_send(Message::Row(row)).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            metrics::counter!("vibe_app_rows_dropped_total", "kind" => self.name).increment(1);
            // One line per thousand drops: the log must not become the next flood.
            if dropped % 1000 == 1 {
                tracing::warn!(kind = self.name, dropped, "batch queue full; rows dropped");
            }
        }
    }

    /// Waits until every row queued so far is written (or its batch failed).
    pub(crate) async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn run<T, W, F>(name: &'static str, mut receiver: mpsc::Receiver<Message<T>>, write: W)
where
    W: Fn(Vec<T>) -> F,
    F: Future<Output = anyhow::Result<()>>,
{
    let mut pending = Vec::new();
    let mut ticker = tokio::time::interval(INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = receiver.recv() => match message {
                Some(Message::Row(row)) => {
                    pending.push(row);
                    if pending.len() >= MAX_BATCH {
                        write_batch(name, &write, &mut pending).await;
                    }
                }
                Some(Message::Flush(done)) => {
                    write_batch(name, &write, &mut pending).await;
                    let _ = done.send(());
                }
                None => {
                    write_batch(name, &write, &mut pending).await;
                    return;
                }
            },
            _ = ticker.tick() => write_batch(name, &write, &mut pending).await,
        }
    }
}

async fn write_batch<T, W, F>(name: &'static str, write: &W, pending: &mut Vec<T>)
where
    W: Fn(Vec<T>) -> F,
    F: Future<Output = anyhow::Result<()>>,
{
    if pending.is_empty() {
        return;
    }
    let batch = std::mem::take(pending);
    let rows = batch.len();
    if let Err(error) = write(batch).await {
        metrics::counter!("vibe_app_rows_dropped_total", "kind" => name).increment(rows as u64);
        tracing::warn!(
            kind = name,
            rows,
            error = format!("{error:#}"),
            "writing a batch failed; rows dropped"
        );
    }
}

/// `text` made storable in a `TEXT` column (PostgreSQL refuses NUL characters) and cut to `max`
/// bytes at a character boundary.
pub(crate) fn storable(text: &str, max: usize) -> String {
    text[..text.floor_char_boundary(max)].replace('\0', "\u{FFFD}")
}
