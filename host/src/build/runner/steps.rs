//! One step of a test plan against a loaded app: its `{name}` placeholders filled from what
//! earlier steps captured, sent as the platform would send it (the identity headers of its
//! visitor, the body with its content type), and its answer checked: the status, what the body
//! must and must not contain, and the values to capture from a JSON answer.
//!
//! A failure is a sentence for the report, which its reader (a person, or the code generator's
//! repair loop) acts on: the step, the request, what was expected and what came back, with an
//! excerpt of the body and what the app logged while answering.

use std::collections::HashMap;

use axum::body::Body as AxumBody;
use http::header::{CONTENT_TYPE, HOST};
use serde_json::Value;
use vibe_apps_runtime::{LoadedApp, MemoryLogSink, REQUEST_ID_HEADER};

use crate::build::plan::{Body, Step, Visitor};

/// The host name test requests carry; a throw-away app has no address of its own.
const APP_HOST: &str = "app.test";
/// How much of a body a failure quotes.
const EXCERPT_CHARS: usize = 300;
/// How much of the app's log a failure quotes.
const LOG_CHARS: usize = 400;

/// What the steps of a plan captured so far: placeholder name → value.
pub(super) type Captures = HashMap<String, String>;

/// The app under test and where its log entries go.
pub(super) struct Target<'a> {
    pub app: &'a LoadedApp,
    pub logs: &'a MemoryLogSink,
}

/// Why a step did not pass.
pub(super) enum StepFailure {
    /// The app answered something else than the step expects, or the step cannot be sent.
    Failed(String),
    /// The run's time limit ran out while the step waited for its answer.
    OutOfTime(String),
}

/// The `x-vibe-user-*` headers the platform sends for `visitor` (see the build pipeline notes):
/// none for an anonymous visitor.
pub fn identity_headers(visitor: Visitor) -> Vec<(&'static str, String)> {
    let (id, email, relation) = match visitor {
        Visitor::Anonymous => return Vec::new(),
        Visitor::Owner => (Visitor::owner_id(), "owner@test.invalid".to_owned(), "owner"),
        Visitor::SignedIn(n) => (Visitor::user_id(n), format!("user{n}@test.invalid"), "signed_in"),
    };
    vec![
        ("x-vibe-user-id", id.to_string()),
        ("x-vibe-user-email", email),
        ("x-vibe-user-relation", relation.to_owned()),
    ]
}

/// Runs step number `index` (from 1) of a case; `deadline` bounds the wait for the answer.
pub(super) async fn run(
    target: &Target<'_>,
    index: usize,
    step: &Step,
    captures: &mut Captures,
    deadline: tokio::time::Instant,
) -> Result<(), StepFailure> {
    let path = fill(&step.path, captures, true);
    let label = format!("step {index} ({} {})", step.method, path.as_deref().unwrap_or(&step.path));
    let failed = |why: String| StepFailure::Failed(format!("{label}: {why}"));
    let path = path.map_err(&failed)?;
    let request = request(step, &path, captures).map_err(&failed)?;
    let Ok(response) = tokio::time::timeout_at(deadline, target.app.handle(request)).await else {
        return Err(StepFailure::OutOfTime(format!(
            "{label}: the test run's time limit ran out while waiting for the answer"
        )));
    };
    let status = response.status().as_u16();
    let request_id =
        response.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let is_html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    // The runtime's bodies are complete in memory already; collecting them cannot fail.
    let bytes =
        axum::body::to_bytes(AxumBody::new(response.into_body()), usize::MAX).await.unwrap_or_default();
    let body = String::from_utf8_lossy(&bytes);
    let answered = |why: String| {
        let mut text = format!("{label}: {why}; body: {}", excerpt(&body, is_html));
        if let Some(log) = request_id.as_deref().map(|id| app_log(target.logs, id)).filter(|l| !l.is_empty())
        {
            text.push_str("; app log: ");
            text.push_str(&log);
        }
        StepFailure::Failed(text)
    };
    if status != step.expect_status {
        return Err(answered(format!("expected status {}, got {status}", step.expect_status)));
    }
    for expected in &step.expect_contains {
        let expected = fill(expected, captures, false).map_err(&failed)?;
        if !body.contains(&expected) {
            return Err(answered(format!("the body lacks {expected:?}")));
        }
    }
    for absent in &step.expect_absent {
        let absent = fill(absent, captures, false).map_err(&failed)?;
        if body.contains(&absent) {
            return Err(answered(format!("the body contains {absent:?}, which must be absent")));
        }
    }
    if !step.capture.is_empty() {
        let Ok(json) = serde_json::from_slice::<Value>(&bytes) else {
            return Err(answered("the answer is not JSON, so nothing can be captured from it".to_owned()));
        };
        for (name, pointer) in &step.capture {
            let value = match json.pointer(pointer) {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Null) | None => {
                    return Err(answered(format!(
                        "captures {{{name}}} from {pointer}, which the answer lacks"
                    )));
                }
                Some(other) => other.to_string(),
            };
            captures.insert(name.clone(), value);
        }
    }
    Ok(())
}

/// The request of `step` at `path` (filled already), its body filled too.
fn request(step: &Step, path: &str, captures: &Captures) -> Result<http::Request<AxumBody>, String> {
    if !path.starts_with('/') {
        return Err("the path must start with /".to_owned());
    }
    let method = http::Method::from_bytes(step.method.as_bytes())
        .map_err(|_| format!("{:?} is not an HTTP method", step.method))?;
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("http://{APP_HOST}{path}"))
        .header(HOST, APP_HOST);
    for (name, value) in identity_headers(step.visitor) {
        builder = builder.header(name, value);
    }
    let body = match &step.body {
        None => AxumBody::empty(),
        Some(Body::Form(fields)) => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in fields {
                form.append_pair(name, &fill(value, captures, false)?);
            }
            builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
            AxumBody::from(form.finish())
        }
        Some(Body::Json(value)) => {
            builder = builder.header(CONTENT_TYPE, "application/json");
            AxumBody::from(fill_json(value, captures)?.to_string())
        }
    };
    builder.body(body).map_err(|error| format!("cannot be sent: {error}"))
}

/// `text` with each `{name}` (letters, digits, `_`) replaced by its captured value, percent-encoded
/// when `in_path`; other braces stay as they are. A placeholder nothing captured is an error.
fn fill(text: &str, captures: &Captures, in_path: bool) -> Result<String, String> {
    let mut filled = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        filled.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let length = after.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
        if length == 0 || after.as_bytes().get(length) != Some(&b'}') {
            filled.push('{');
            rest = after;
            continue;
        }
        let name = &after[..length];
        let value =
            captures.get(name).ok_or_else(|| format!("{{{name}}} was not captured by any earlier step"))?;
        if in_path {
            for byte in value.bytes() {
                if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                    filled.push(char::from(byte));
                } else {
                    filled.push_str(&format!("%{byte:02X}"));
                }
            }
        } else {
            filled.push_str(value);
        }
        rest = &after[length + 1..];
    }
    filled.push_str(rest);
    Ok(filled)
}

/// `value` with the placeholders of its strings filled.
fn fill_json(value: &Value, captures: &Captures) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => Value::String(fill(text, captures, false)?),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| fill_json(item, captures)).collect::<Result<_, _>>()?)
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, field)| Ok((name.clone(), fill_json(field, captures)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// The start of a body, on one line; of a page, its text without markup, styles and scripts.
fn excerpt(body: &str, is_html: bool) -> String {
    let text = if is_html { page_text(body) } else { body.to_owned() };
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "(empty)".to_owned();
    }
    shorten(&line, EXCERPT_CHARS)
}

/// What the app logged while answering request `request_id`, on one line.
fn app_log(logs: &MemoryLogSink, request_id: &str) -> String {
    let lines: Vec<String> = logs
        .entries()
        .into_iter()
        .filter(|entry| entry.request_id == request_id)
        .map(|entry| entry.message.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    shorten(&lines.join(" | "), LOG_CHARS)
}

/// At most `max` characters of `text`, marked when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The text of an HTML page: the `<body>` when there is one, without tags, `<style>` and
/// `<script>` elements. Rough on purpose: it only has to make an excerpt readable.
fn page_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<body").unwrap_or(0);
    let mut text = String::new();
    let mut at = start;
    while at < html.len() {
        let rest = &lower[at..];
        let Some(open) = rest.find('<') else {
            text.push_str(&html[at..]);
            break;
        };
        text.push_str(&html[at..at + open]);
        text.push(' ');
        let tag = &rest[open..];
        let skip_to = ["style", "script"]
            .iter()
            .find(|name| tag[1..].starts_with(**name))
            .and_then(|name| tag.find(&format!("</{name}")))
            .unwrap_or(0);
        match tag[skip_to..].find('>') {
            Some(close) => at += open + skip_to + close + 1,
            None => break,
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_other_braces_kept() {
        let captures = Captures::from([("id".to_owned(), "a b/7".to_owned())]);
        assert_eq!(fill("/books/{id}/edit", &captures, true).unwrap(), "/books/a%20b%2F7/edit");
        assert_eq!(fill("{\"id\":{id}}", &captures, false).unwrap(), "{\"id\":a b/7}");
        assert_eq!(fill("{ {} {x-y}", &captures, false).unwrap(), "{ {} {x-y}");
        assert!(fill("/books/{book}", &captures, true).unwrap_err().contains("{book}"));
    }

    #[test]
    fn an_excerpt_of_a_page_is_its_text() {
        let page = "<html><head><style>body { color: red }</style></head><body><h1>Books</h1>\
                    <script>let a = 1 < 2;</script><p>None yet &amp; more</p></body></html>";
        assert_eq!(excerpt(page, true), "Books None yet & more");
        assert_eq!(excerpt(&"x".repeat(400), false).chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt(" \n", false), "(empty)");
    }

    #[test]
    fn visitors_carry_the_platform_headers() {
        assert!(identity_headers(Visitor::Anonymous).is_empty());
        let owner = identity_headers(Visitor::Owner);
        assert!(owner.contains(&("x-vibe-user-id", Visitor::owner_id().to_string())));
        assert!(owner.contains(&("x-vibe-user-relation", "owner".to_owned())));
        let second = identity_headers(Visitor::SignedIn(2));
        assert!(second.contains(&("x-vibe-user-id", Visitor::user_id(2).to_string())));
        assert!(second.contains(&("x-vibe-user-email", "user2@test.invalid".to_owned())));
        assert!(second.contains(&("x-vibe-user-relation", "signed_in".to_owned())));
    }
}
