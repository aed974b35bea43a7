//! The app's stdout and stderr: captured line by line into its log (through the request's
//! [`LogBudget`], so the per-request cap applies), never to the host's own output.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::log::{LogBudget, LogLevel, LogSource};

/// A line longer than this is logged in pieces of this size, so a line without end cannot hold
/// host memory.
const MAX_LINE_BYTES: usize = 8 << 10;
/// How much the app may write at once (it is taken at once, so it need not be small).
const WRITE_PERMIT: usize = 64 << 10;

/// One of the app's output streams. Clones share the line being assembled; the last clone to be
/// dropped (with the request's store) logs an unfinished last line.
#[derive(Clone)]
pub(crate) struct LogPipe {
    line: Arc<Mutex<LineBuffer>>,
}

struct LineBuffer {
    source: LogSource,
    level: LogLevel,
    logs: LogBudget,
    pending: Vec<u8>,
}

impl LogPipe {
    pub(crate) fn stdout(logs: LogBudget) -> Self {
        Self::new(LogSource::Stdout, LogLevel::Info, logs)
    }

    pub(crate) fn stderr(logs: LogBudget) -> Self {
        Self::new(LogSource::Stderr, LogLevel::Warn, logs)
    }

    fn new(source: LogSource, level: LogLevel, logs: LogBudget) -> Self {
        LogPipe { line: Arc::new(Mutex::new(LineBuffer { source, level, logs, pending: Vec::new() })) }
    }

    fn write_bytes(&self, bytes: &[u8]) {
        // Every update leaves the buffer consistent, so a poisoned lock is still usable.
        let mut line = self.line.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        line.write(bytes);
    }
}

impl LineBuffer {
    fn write(&mut self, bytes: &[u8]) {
        for piece in bytes.split_inclusive(|byte| *byte == b'\n') {
            let (text, complete) = match piece.strip_suffix(b"\n") {
                Some(text) => (text, true),
                None => (piece, false),
            };
            for chunk in text.chunks(MAX_LINE_BYTES) {
                let room = MAX_LINE_BYTES - self.pending.len();
                let (now, later) = chunk.split_at(chunk.len().min(room));
                self.pending.extend_from_slice(now);
                if self.pending.len() >= MAX_LINE_BYTES {
                    self.emit();
                }
                self.pending.extend_from_slice(later);
            }
            if complete {
                self.emit();
            }
        }
    }

    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.pending);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        self.logs.app(self.source, self.level, text);
        self.pending.clear();
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.emit();
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
        Ok(WRITE_PERMIT)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{LogSink, MemoryLogSink};

    #[test]
    fn lines_are_assembled_split_and_flushed_on_drop() {
        let sink = Arc::new(MemoryLogSink::new(100));
        let logs = LogBudget::new(sink.clone() as Arc<dyn LogSink>, uuid::Uuid::nil(), "r".into(), 1 << 20);
        let pipe = LogPipe::stdout(logs);
        pipe.write_bytes(b"hel");
        pipe.write_bytes(b"lo\r\nwor");
        pipe.write_bytes(b"ld\n\nlast");
        pipe.write_bytes(&vec![b'x'; MAX_LINE_BYTES + 10]);
        drop(pipe);
        let lines: Vec<_> = sink.entries().into_iter().map(|e| e.message).collect();
        assert_eq!(lines[..3], ["hello", "world", ""]);
        assert_eq!(lines[3].len(), MAX_LINE_BYTES);
        assert!(lines[3].starts_with("last"));
        assert_eq!(lines[4].len(), 14);
        assert_eq!(lines.len(), 5);
    }
}
