//! Cross-site request checks for cookie-authenticated requests and WebSocket handshakes.
//!
//! Browsers attach cookies to requests that other sites trigger; they also always send `Origin` on
//! state-changing requests and WebSocket handshakes. So a state-changing request authenticated by cookie
//! must carry an `Origin` that is ours: the configured public URL, or the host the request was sent to.

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

use crate::config::ServeConfig;

/// Whether `Origin` names this server. A missing `Origin` is accepted only when `allow_missing` (non-browser
/// clients of a WebSocket send none).
pub fn is_same_origin(headers: &HeaderMap, config: &ServeConfig, allow_missing: bool) -> bool {
    let Some(origin) = headers.get(ORIGIN) else { return allow_missing };
    let Ok(origin) = origin.to_str() else { return false };
    let Ok(origin) = url::Url::parse(origin) else { return false };
    let origin_host = match (origin.host_str(), origin.port_or_known_default()) {
        (Some(host), Some(port)) => (host.to_ascii_lowercase(), port),
        _ => return false,
    };
    if let Ok(public) = url::Url::parse(&config.public_base())
        && public.scheme() == origin.scheme()
        && public.host_str().map(str::to_ascii_lowercase) == Some(origin_host.0.clone())
        && public.port_or_known_default() == Some(origin_host.1)
    {
        return true;
    }
    // The Host the browser sent this request to (covers localhost vs 127.0.0.1 and proxies that keep Host).
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else { return false };
    let Ok(request_url) = url::Url::parse(&format!("{}://{host}", origin.scheme())) else { return false };
    request_url.host_str().map(str::to_ascii_lowercase) == Some(origin_host.0)
        && request_url.port_or_known_default() == Some(origin_host.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_and_foreign_origins() {
        let config = ServeConfig::for_listen("127.0.0.1:8080".parse().unwrap());
        assert!(is_same_origin(&headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"), &config, false));
        assert!(is_same_origin(&headers(Some("http://localhost:8080"), "localhost:8080"), &config, false));
        assert!(!is_same_origin(&headers(Some("http://evil.example"), "127.0.0.1:8080"), &config, false));
        assert!(!is_same_origin(&headers(Some("http://127.0.0.1:9999"), "127.0.0.1:8080"), &config, false));
        assert!(!is_same_origin(&headers(Some("null"), "127.0.0.1:8080"), &config, false));
        assert!(!is_same_origin(&headers(None, "127.0.0.1:8080"), &config, false));
        assert!(is_same_origin(&headers(None, "127.0.0.1:8080"), &config, true));
    }
}
