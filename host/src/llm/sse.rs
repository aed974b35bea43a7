//! Server-sent events (the `text/event-stream` format both providers stream in): a parser that
//! takes the body in whatever chunks the network delivers and yields whole events, and
//! [`EventStream`], which reads a provider's response through its wire format's [`Decoder`],
//! with an idle timeout between chunks.

use std::collections::VecDeque;
use std::time::Duration;

use super::provider::{Accumulated, ProviderError};
use crate::agents::runtime::{LlmToolResponse, LlmUsage};

/// The largest single event accepted: a provider sending more without a blank line is broken.
const MAX_EVENT_BYTES: usize = 1 << 20;

/// One event: its `event:` name (if any) and its `data:` lines joined by newlines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Splits a byte stream into events. Lines end with `\n`, `\r\n` or `\r`; an empty line ends an
/// event; `:` starts a comment; `id:` and `retry:` are ignored (we never reconnect).
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of an unfinished line.
    line: Vec<u8>,
    /// The event being read.
    current: SseEvent,
    has_data: bool,
    /// A `\r` ended the last line: a `\n` right after it belongs to that line end.
    after_cr: bool,
}

impl SseParser {
    /// Feeds `chunk`; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, ProviderError> {
        let mut events = Vec::new();
        for &byte in chunk {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&line)? {
                        events.push(event);
                    }
                }
                _ => {
                    self.line.push(byte);
                    if self.line.len() + self.current.data.len() > MAX_EVENT_BYTES {
                        return Err(ProviderError::permanent("the provider streamed an event over 1 MiB"));
                    }
                }
            }
        }
        Ok(events)
    }

    fn line_done(&mut self, line: &[u8]) -> Result<Option<SseEvent>, ProviderError> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.current);
            let had_data = std::mem::take(&mut self.has_data);
            return Ok(if had_data || event.event.is_some() { Some(event) } else { None });
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| ProviderError::permanent("the provider streamed a line that is not UTF-8"))?;
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.current.event = Some(value.to_owned()),
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        Ok(None)
    }
}

/// What a wire format makes of one event.
pub enum Step {
    /// Text for the agent.
    Text(String),
    /// Nothing to pass on yet.
    Continue,
    /// The provider said the answer is complete.
    Done,
}

/// One provider's streaming wire format.
pub trait Decoder: Send {
    /// Takes one event into `answer`.
    fn event(&mut self, event: &SseEvent, answer: &mut Accumulated) -> Result<Step, ProviderError>;

    /// The gateway's name for the provider's stop reason.
    fn stop_reason(&self, reason: &str) -> String;
}

/// A provider's streamed answer being read.
pub struct EventStream {
    response: reqwest::Response,
    parser: SseParser,
    pending: VecDeque<SseEvent>,
    decoder: Box<dyn Decoder>,
    answer: Accumulated,
    idle_timeout: Duration,
    done: bool,
}

impl EventStream {
    /// Reads `response` (already checked for success) with `decoder`, waiting at most
    /// `idle_timeout` for each chunk.
    pub fn new(response: reqwest::Response, decoder: Box<dyn Decoder>, idle_timeout: Duration) -> Self {
        EventStream {
            response,
            parser: SseParser::default(),
            pending: VecDeque::new(),
            decoder,
            answer: Accumulated::default(),
            idle_timeout,
            done: false,
        }
    }

    /// The next piece of text; `None` once the provider said the answer is complete. A body that
    /// ends before that, a stall or an event that breaks the format is an error.
    pub async fn next_text(&mut self) -> Result<Option<String>, ProviderError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(event) = self.pending.pop_front() {
                match self.decoder.event(&event, &mut self.answer)? {
                    Step::Text(text) if !text.is_empty() => return Ok(Some(text)),
                    Step::Text(_) | Step::Continue => continue,
                    Step::Done => {
                        self.done = true;
                        return Ok(None);
                    }
                }
            }
            let chunk = tokio::time::timeout(self.idle_timeout, self.response.chunk())
                .await
                .map_err(|_| ProviderError::timeout(self.idle_timeout))?
                .map_err(|error| ProviderError::transport(&error))?;
            match chunk {
                Some(bytes) => self.pending.extend(self.parser.push(&bytes)?),
                None => {
                    return Err(ProviderError::permanent(
                        "the provider's stream ended before the answer was complete",
                    ));
                }
            }
        }
    }

    /// Whether the provider said the answer is complete.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The tokens used so far (estimated for output the provider has not counted yet).
    pub fn usage_so_far(&self) -> LlmUsage {
        self.answer.usage_so_far()
    }

    /// The whole answer; call once [`EventStream::next_text`] returned `None`.
    pub fn take_response(&mut self) -> Result<LlmToolResponse, ProviderError> {
        let answer = std::mem::take(&mut self.answer);
        let decoder = &self.decoder;
        answer.into_response(|reason| decoder.stop_reason(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &str, piece: usize) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in input.as_bytes().chunks(piece) {
            events.extend(parser.push(chunk).unwrap());
        }
        events
    }

    #[test]
    fn events_survive_any_chunking_and_line_ending() {
        let input =
            ": keep-alive\r\nevent: message_start\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\ndata: [DONE]\n\n";
        let expected = vec![
            SseEvent { event: Some("message_start".into()), data: "{\"a\":\n1}".into() },
            SseEvent { event: None, data: "[DONE]".into() },
        ];
        for piece in [1, 2, 3, 7, input.len()] {
            assert_eq!(parse_in_pieces(input, piece), expected, "in pieces of {piece}");
        }
        assert_eq!(parse_in_pieces("data: é\r\rdata:x\n\n", 1).len(), 2);
    }

    #[test]
    fn an_event_without_an_end_is_refused_past_its_limit() {
        let mut parser = SseParser::default();
        let long = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert!(parser.push(&long).is_err());
    }
}
