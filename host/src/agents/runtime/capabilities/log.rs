//! `vibe:agent/log` and the plugin's stdout and stderr: lines kept for the call's
//! [`super::super::CallStats`] (the dispatcher stores them with the version) and traced with the
//! plugin's name and version, up to the call's log budget; past it they are dropped, and the
//! drop is noted once. Logging needs the `log` capability; stdout and stderr are always captured
//! (Rust's std writes panics there), within the same budget.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use super::CallShared;
use crate::agents::runtime::bindings::log as wit;
use crate::agents::runtime::state::CallState;
use crate::agents::runtime::types::Capability;

/// The longest message kept; longer ones are truncated.
const MAX_MESSAGE_BYTES: usize = 8 << 10;

/// How important a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Where a log line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// `vibe:agent/log` (or the Extism PDK's log functions).
    Plugin,
    /// The plugin's stdout.
    Stdout,
    /// The plugin's stderr.
    Stderr,
    /// The runtime, about the plugin (a dropped excess, a refused request).
    Runtime,
}

/// One line of a plugin's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginLogLine {
    pub source: LogSource,
    pub level: LogLevel,
    pub message: String,
}

/// The lines of one call, within its budget.
pub(crate) struct LogCollector {
    inner: Mutex<Collected>,
}

struct Collected {
    lines: Vec<PluginLogLine>,
    left: usize,
    dropped: bool,
}

impl LogCollector {
    pub(crate) fn new(budget_bytes: u64) -> Self {
        let left = usize::try_from(budget_bytes).unwrap_or(usize::MAX);
        LogCollector { inner: Mutex::new(Collected { lines: Vec::new(), left, dropped: false }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Collected> {
        // Every update leaves the lines consistent, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lines collected so far, taking them.
    pub(crate) fn take(&self) -> Vec<PluginLogLine> {
        std::mem::take(&mut self.lock().lines)
    }
}

impl CallShared {
    /// Keeps and traces a line of the plugin's log, within the call's budget.
    pub(crate) fn log(&self, source: LogSource, level: LogLevel, message: &str) {
        let message = truncate(message, MAX_MESSAGE_BYTES);
        let mut collected = self.logs.lock();
        if message.len() > collected.left {
            if !collected.dropped {
                collected.dropped = true;
                collected.lines.push(PluginLogLine {
                    source: LogSource::Runtime,
                    level: LogLevel::Warn,
                    message: format!(
                        "log budget of {} bytes used up; later lines dropped",
                        self.limits.max_log_bytes
                    ),
                });
            }
            return;
        }
        collected.left -= message.len();
        collected.lines.push(PluginLogLine { source, level, message: message.to_owned() });
        drop(collected);
        tracing::debug!(
            target: "vibe::agent::plugin",
            plugin = %self.plugin_name,
            version = %self.plugin_version,
            session_id = %self.session_id,
            ?source,
            ?level,
            "{message}"
        );
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

impl From<wit::Level> for LogLevel {
    fn from(level: wit::Level) -> Self {
        match level {
            wit::Level::Trace => LogLevel::Trace,
            wit::Level::Debug => LogLevel::Debug,
            wit::Level::Info => LogLevel::Info,
            wit::Level::Warn => LogLevel::Warn,
            wit::Level::Error => LogLevel::Error,
        }
    }
}

impl wit::Host for CallState {
    async fn log(&mut self, level: wit::Level, message: String) -> wasmtime::Result<()> {
        // `log` returns nothing, so an ungranted call is dropped with a note rather than answered.
        if self.call.require(Capability::Log).is_ok() {
            self.call.log(LogSource::Plugin, level.into(), &message);
        } else {
            self.call.log(
                LogSource::Runtime,
                LogLevel::Warn,
                "log call dropped: the `log` capability was not granted",
            );
        }
        Ok(())
    }
}

/// The plugin's stdout or stderr, line by line into its log.
#[derive(Clone)]
pub(crate) struct LogPipe {
    call: Arc<CallShared>,
    stderr: bool,
    pending: Arc<Mutex<Vec<u8>>>,
}

impl LogPipe {
    pub(crate) fn new(call: Arc<CallShared>, stderr: bool) -> Self {
        LogPipe { call, stderr, pending: Arc::new(Mutex::new(Vec::new())) }
    }

    fn write_bytes(&self, bytes: &[u8]) {
        let (source, level) = if self.stderr {
            (LogSource::Stderr, LogLevel::Warn)
        } else {
            (LogSource::Stdout, LogLevel::Info)
        };
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for byte in bytes {
            if *byte == b'\n' || pending.len() >= MAX_MESSAGE_BYTES {
                self.call.log(source, level, &String::from_utf8_lossy(&pending));
                pending.clear();
                if *byte == b'\n' {
                    continue;
                }
            }
            pending.push(*byte);
        }
    }
}

impl IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogPipe {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for LogPipe {
    async fn ready(&mut self) {}
}

impl OutputStream for LogPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

impl AsyncWrite for LogPipe {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
