//! The app's log: where its `vibe:app/log` messages, its stdout and stderr lines, and the runtime's
//! own records about it (traps, limit hits, refused outbound requests) go. The embedder provides a
//! [`LogSink`] per app (the host will persist entries and serve them at `GET /api/apps/:id/logs`);
//! [`MemoryLogSink`] keeps the most recent entries in memory.
//!
//! One request's output is capped ([`crate::Limits::max_log_bytes_per_request`]) by a
//! [`LogBudget`] shared by all three sources, so a chatty app cannot flood the sink.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;
use uuid::Uuid;

use crate::bindings::log::{Host, Level};
use crate::state::RequestState;

/// How important an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Fine-grained detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that did not fail the request.
    Warn,
    /// A failure.
    Error,
}

impl From<Level> for LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

/// Where an entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// The app, through `vibe:app/log`.
    App,
    /// A line the app wrote to stdout.
    Stdout,
    /// A line the app wrote to stderr.
    Stderr,
    /// The runtime, about the app: traps, limit hits, refused requests.
    Runtime,
}

/// One entry of an app's log.
#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    /// The app.
    pub app_id: Uuid,
    /// The request during which it was written (also in the response's `x-request-id`).
    pub request_id: String,
    /// When.
    pub at: SystemTime,
    /// Who wrote it.
    pub source: LogSource,
    /// How important it is.
    pub level: LogLevel,
    /// The text, without a trailing newline.
    pub message: String,
}

/// Receives an app's log entries. Called on the request path: it must not block (queue and write
/// elsewhere).
pub trait LogSink: Send + Sync {
    /// Records one entry.
    fn record(&self, entry: LogEntry);
}

/// Keeps the most recent entries in memory, dropping the oldest beyond its capacity.
#[derive(Debug)]
pub struct MemoryLogSink {
    capacity: usize,
    entries: Mutex<VecDeque<LogEntry>>,
}

impl MemoryLogSink {
    /// A sink keeping at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        MemoryLogSink { capacity, entries: Mutex::new(VecDeque::new()) }
    }

    /// The entries kept, oldest first.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.lock().iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<LogEntry>> {
        // Each update is a single push or pop, so a poisoned lock still guards a whole deque.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl LogSink for MemoryLogSink {
    fn record(&self, entry: LogEntry) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }
}

/// The longest single message kept; longer ones are cut (at a character boundary).
const MAX_MESSAGE_BYTES: usize = 8 << 10;

/// One request's log writer: stamps entries with the app and request, and enforces the request's
/// byte budget across all sources. Cheap to clone.
#[derive(Clone)]
pub(crate) struct LogBudget {
    inner: Arc<BudgetInner>,
}

struct BudgetInner {
    sink: Arc<dyn LogSink>,
    app_id: Uuid,
    request_id: String,
    remaining: AtomicU64,
    truncated: AtomicBool,
}

impl LogBudget {
    pub(crate) fn new(sink: Arc<dyn LogSink>, app_id: Uuid, request_id: String, bytes: u64) -> Self {
        LogBudget {
            inner: Arc::new(BudgetInner {
                sink,
                app_id,
                request_id,
                remaining: AtomicU64::new(bytes),
                truncated: AtomicBool::new(false),
            }),
        }
    }

    /// Records an entry from the app (or its stdio) if the budget allows; the first entry over
    /// budget is replaced by one runtime note saying the output was cut.
    pub(crate) fn app(&self, source: LogSource, level: LogLevel, message: &str) {
        let message = truncate(message, MAX_MESSAGE_BYTES);
        let cost = message.len().max(1) as u64;
        let granted = self
            .inner
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(cost))
            .is_ok();
        if granted {
            self.emit(source, level, message.to_owned());
        } else if !self.inner.truncated.swap(true, Ordering::SeqCst) {
            self.runtime(
                LogLevel::Warn,
                "log output of this request exceeded its limit; the rest was dropped",
            );
        }
    }

    /// Records an entry of the runtime's own (never counted against the budget).
    pub(crate) fn runtime(&self, level: LogLevel, message: &str) {
        self.emit(LogSource::Runtime, level, message.to_owned());
    }

    fn emit(&self, source: LogSource, level: LogLevel, message: String) {
        self.inner.sink.record(LogEntry {
            app_id: self.inner.app_id,
            request_id: self.inner.request_id.clone(),
            at: SystemTime::now(),
            source,
            level,
            message,
        });
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

impl Host for RequestState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.logs.app(LogSource::App, level.into(), &message);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_caps_output_and_notes_it_once() {
        let sink = Arc::new(MemoryLogSink::new(100));
        let budget = LogBudget::new(sink.clone(), Uuid::nil(), "r1".into(), 10);
        budget.app(LogSource::Stdout, LogLevel::Info, "12345");
        budget.app(LogSource::Stdout, LogLevel::Info, "123456");
        budget.app(LogSource::Stdout, LogLevel::Info, "1");
        budget.app(LogSource::Stdout, LogLevel::Info, "123456");
        let messages: Vec<_> = sink.entries().into_iter().map(|e| (e.source, e.message)).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(messages[0], (LogSource::Stdout, "12345".to_owned()));
        assert_eq!(messages[1].0, LogSource::Runtime);
        assert_eq!(messages[2], (LogSource::Stdout, "1".to_owned()));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("hello", 10), "hello");
    }

    #[test]
    fn memory_sink_drops_oldest() {
        let sink = MemoryLogSink::new(2);
        for n in 0..3 {
            sink.record(LogEntry {
                app_id: Uuid::nil(),
                request_id: n.to_string(),
                at: SystemTime::now(),
                source: LogSource::App,
                level: LogLevel::Info,
                message: n.to_string(),
            });
        }
        let kept: Vec<_> = sink.entries().into_iter().map(|e| e.message).collect();
        assert_eq!(kept, ["1", "2"]);
    }
}
