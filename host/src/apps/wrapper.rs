//! The Vibe Wrapper: a small script the host injects into an app's HTML pages. It reports a page
//! view to the host (the analytics beacon, `POST {app}/_vibe/beacon`) and shows a "Built with Vibe"
//! badge. Each app switches it off with `features_enabled: {"wrapper": false}`; the beacon path then
//! belongs to the app like any other.

use axum::body::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Response};
use serde::Deserialize;
use serde_json::Value;

/// The feature switch, in `features_enabled`.
pub const FEATURE: &str = "wrapper";
/// Where the beacon reports, relative to the app's root.
pub const BEACON_PATH: &str = "/_vibe/beacon";
/// The largest beacon body read.
pub const MAX_BEACON_BYTES: usize = 4 * 1024;
/// Marks the injected script (tests and curious owners look for it).
pub const MARKER: &str = "data-vibe-wrapper";

/// Whether an app's `features_enabled` leaves the wrapper on (it is on unless switched off).
pub fn enabled(features: &Value) -> bool {
    features.get(FEATURE).and_then(Value::as_bool).unwrap_or(true)
}

/// The script for an app whose root is at `base` (`/apps/{slug}` or empty on the app's own host).
/// `home` is where the badge links to (the platform's public address).
pub fn snippet(base: &str, home: &str) -> String {
    let beacon = serde_json::to_string(&format!("{base}{BEACON_PATH}")).unwrap_or_default();
    let home = serde_json::to_string(home).unwrap_or_default();
    // The script is self-contained and fails silently: a page must never break because of it.
    // JSON-encoded strings are valid JS literals; `<` is escaped so they cannot close the script tag.
    let script = format!(
        "(function(){{try{{var d=JSON.stringify({{path:location.pathname,referrer:document.referrer,\
load_ms:Math.round(performance.now())}});if(navigator.sendBeacon){{navigator.sendBeacon({beacon},d)}}\
else{{fetch({beacon},{{method:'POST',body:d,keepalive:true}})}}}}catch(e){{}}\
function b(){{if(document.getElementById('vibe-badge'))return;var a=document.createElement('a');\
a.id='vibe-badge';a.href={home};a.target='_blank';a.rel='noopener';a.textContent='Built with Vibe';\
a.style.cssText='position:fixed;right:12px;bottom:12px;z-index:2147483647;padding:4px 10px;\
border-radius:999px;background:#111;color:#fff;font:12px/1.6 system-ui,sans-serif;\
text-decoration:none;opacity:.85';document.body.appendChild(a)}}\
if(document.body){{b()}}else{{document.addEventListener('DOMContentLoaded',b)}}}})();"
    )
    .replace('<', "\\u003c");
    format!("<script {MARKER}>{script}</script>")
}

/// Whether a response is an HTML page the wrapper may change: `text/html`, not compressed.
pub fn applies(headers: &HeaderMap) -> bool {
    let html = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with("text/html"));
    let encoded = headers
        .get(CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| !value.trim().eq_ignore_ascii_case("identity"));
    html && !encoded
}

/// Injects `snippet` before the page's last `</body>` (or at its end when it has none).
pub fn inject(response: Response<Bytes>, snippet: &str) -> Response<Bytes> {
    let (mut parts, body) = response.into_parts();
    let at = find_last_ignore_case(&body, b"</body").unwrap_or(body.len());
    let mut page = Vec::with_capacity(body.len() + snippet.len());
    page.extend_from_slice(&body[..at]);
    page.extend_from_slice(snippet.as_bytes());
    page.extend_from_slice(&body[at..]);
    // The app's length no longer holds; the server sets the new one.
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Bytes::from(page))
}

fn find_last_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > haystack.len() {
        return None;
    }
    (0..=haystack.len() - needle.len())
        .rev()
        .find(|&at| haystack[at..at + needle.len()].eq_ignore_ascii_case(needle))
}

/// What the beacon sends.
#[derive(Debug, Default, Deserialize)]
pub struct Beacon {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub referrer: String,
    #[serde(default)]
    pub load_ms: Option<f64>,
}

impl Beacon {
    /// Reads a beacon body; anything unreadable counts as a view of an unknown page.
    pub fn parse(body: &[u8]) -> Beacon {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// The load time as stored: whole milliseconds within a day, else unknown.
    pub fn load_ms(&self) -> Option<i32> {
        self.load_ms.filter(|ms| ms.is_finite() && (0.0..86_400_000.0).contains(ms)).map(|ms| ms as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(content_type: &str, body: &'static str) -> Response<Bytes> {
        Response::builder()
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, body.len())
            .body(Bytes::from_static(body.as_bytes()))
            .unwrap()
    }

    #[test]
    fn the_script_goes_before_the_last_closing_body_tag() {
        let response = page("text/html; charset=utf-8", "<html><BODY>hi</BODY></html>");
        assert!(applies(response.headers()));
        let out = inject(response, "<script data-vibe-wrapper></script>");
        assert!(out.headers().get(CONTENT_LENGTH).is_none());
        assert_eq!(&out.body()[..], b"<html><BODY>hi<script data-vibe-wrapper></script></BODY></html>");

        let fragment = inject(page("text/html", "<p>no body tag"), "<s>");
        assert_eq!(&fragment.body()[..], b"<p>no body tag<s>");
    }

    #[test]
    fn only_plain_html_is_changed() {
        assert!(!applies(page("text/plain", "x").headers()));
        let mut gzipped = page("text/html", "x");
        gzipped.headers_mut().insert(CONTENT_ENCODING, "gzip".parse().unwrap());
        assert!(!applies(gzipped.headers()));
    }

    #[test]
    fn the_snippet_cannot_close_its_script_early() {
        let script = snippet("/apps/a", "http://x/</script><b>");
        assert_eq!(script.matches("</script>").count(), 1, "{script}");
        assert!(script.contains("/apps/a/_vibe/beacon"));
        assert!(script.contains("Built with Vibe"));
    }

    #[test]
    fn the_switch_defaults_to_on() {
        assert!(enabled(&serde_json::json!({})));
        assert!(!enabled(&serde_json::json!({"wrapper": false})));
    }

    #[test]
    fn beacons_are_read_leniently() {
        assert_eq!(Beacon::parse(b"{\"path\":\"/x\",\"load_ms\":12.7}").load_ms(), Some(12));
        assert_eq!(Beacon::parse(b"not json").path, "");
        assert_eq!(Beacon::parse(b"{\"load_ms\":-1}").load_ms(), None);
    }
}
