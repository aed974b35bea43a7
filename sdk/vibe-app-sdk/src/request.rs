//! The request a handler gets: method, path, query, headers, the whole body, and the path's
//! `{param}` captures; with readers for forms and JSON that answer a clear 400/415 when the body
//! is not what the handler expects.

use std::str::FromStr;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::form::Form;
use crate::response::Response;

/// An HTTP method.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD` (served by `GET` routes, without the body).
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `OPTIONS`.
    Options,
    /// Any other method, as sent.
    Other(String),
}

impl Method {
    /// The method's name, such as `GET`.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other(name) => name,
        }
    }

    /// Whether the method only reads (`GET`, `HEAD`, `OPTIONS`); the others change state and are
    /// refused from other sites.
    pub fn is_safe(&self) -> bool {
        matches!(self, Method::Get | Method::Head | Method::Options)
    }
}

/// One request, read whole before the handler runs.
#[derive(Clone, Debug)]
pub struct Request {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    params: Vec<(String, String)>,
}

impl Request {
    /// A request for `target` (a path with an optional `?query`), without headers or body: how
    /// the SDK builds one, and how an app's tests do.
    pub fn new(method: Method, target: &str) -> Request {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let path = if path.is_empty() { "/" } else { path };
        // An undecodable query string reads as empty rather than failing the whole request.
        let query = crate::url::parse_pairs(query).unwrap_or_default();
        Request {
            method,
            path: path.to_owned(),
            query,
            headers: Vec::new(),
            body: Vec::new(),
            params: Vec::new(),
        }
    }

    /// This request with header `name` added.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// This request with `body`.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    pub(crate) fn set_params(&mut self, params: Vec<(String, String)>) {
        self.params = params;
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path, as sent (percent-encoded), without the query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The first value of query parameter `name`, decoded.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// Query parameter `name` parsed as `T`; `None` when absent or empty, a 400 when unparsable.
    pub fn query_as<T: FromStr>(&self, name: &str) -> Result<Option<T>> {
        match self.query(name).map(str::trim).filter(|value| !value.is_empty()) {
            None => Ok(None),
            Some(value) => value
                .parse()
                .map(Some)
                .map_err(|_| Error::bad_request(format!("query parameter `{name}` is not valid"))),
        }
    }

    /// The path segment captured by `{name}` in the route, parsed as `T`: a 404 when it does not
    /// parse (`/books/abc` where an id is a number), a 500 when the route has no such capture.
    pub fn param<T: FromStr>(&self, name: &str) -> Result<T> {
        match self.params.iter().find(|(key, _)| key == name) {
            Some((_, value)) => value.parse().map_err(|_| Error::not_found()),
            None => Err(Error::internal(format!("the route has no parameter `{name}`"))),
        }
    }

    /// The value of header `name` (any case), if sent and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The headers, names in lower case.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text; a 400 when it is not UTF-8.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body).map_err(|_| Error::bad_request("the body is not valid UTF-8"))
    }

    /// The `Content-Type`'s media type, lower case, without parameters (`application/json`).
    pub fn content_type(&self) -> Option<String> {
        let value = self.header("content-type")?;
        Some(value.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }

    fn is_json(&self) -> bool {
        self.content_type().is_some_and(|media| media == "application/json" || media.ends_with("+json"))
    }

    /// The submitted fields: an `application/x-www-form-urlencoded` body (also when no type is
    /// given), or a JSON object (see [`Form::from_json`]). A 400 for a malformed body, a 415 for
    /// any other type.
    pub fn form(&self) -> Result<Form> {
        if self.is_json() {
            let value: serde_json::Value = self.json()?;
            return Form::from_json(&value);
        }
        match self.content_type().as_deref() {
            None | Some("application/x-www-form-urlencoded") => Form::parse_urlencoded(&self.body),
            Some(other) => Err(Error::unsupported_media_type(format!(
                "expected a form (application/x-www-form-urlencoded) or JSON, not {other}"
            ))),
        }
    }

    /// The body deserialized from JSON. A 400 says what is wrong and where (`missing field
    /// `title` at line 1 column 2`); a 415 when the body is declared as something else.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        if self.header("content-type").is_some() && !self.is_json() {
            return Err(Error::unsupported_media_type("expected a JSON body (application/json)"));
        }
        serde_json::from_slice(&self.body)
            .map_err(|error| Error::bad_request(format!("invalid JSON body: {error}")))
    }

    /// Whether to answer in JSON rather than HTML: the client accepts `application/json`, sent
    /// JSON, or asked under `/api/`.
    pub fn wants_json(&self) -> bool {
        self.header("accept").is_some_and(|accept| accept.contains("application/json"))
            || self.is_json()
            || self.path == "/api"
            || self.path.starts_with("/api/")
    }

    /// The prefix the app is served under, from `X-Forwarded-Prefix` (such as `/apps/guestbook`
    /// when the host strips it), or `""`. A value that is not a plain absolute path is ignored,
    /// so it can never turn a redirect into one to another site.
    pub fn prefix(&self) -> &str {
        let Some(prefix) = self.header("x-forwarded-prefix").map(|prefix| prefix.trim_end_matches('/'))
        else {
            return "";
        };
        let plain = prefix.starts_with('/')
            && !prefix.starts_with("//")
            && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
        if plain { prefix } else { "" }
    }

    /// The address of the app's own `path` (`/entries/1`), with the app's prefix.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.prefix())
    }

    /// 303 See Other to the app's own `path`, with the app's prefix.
    pub fn redirect(&self, path: &str) -> Response {
        Response::redirect(&self.url(path))
    }

    /// Whether a browser sent this from another origin (another site, or another app on the
    /// apps domain): `Sec-Fetch-Site` other than `same-origin`/`none`, or, without it, an `Origin`
    /// whose host is not the `Host`.
    pub fn is_cross_origin(&self) -> bool {
        if let Some(site) = self.header("sec-fetch-site") {
            return !matches!(site, "same-origin" | "none");
        }
        let Some(origin) = self.header("origin") else { return false };
        let origin_host = origin.split_once("://").map(|(_, host)| host);
        origin_host.is_none_or(|host| Some(host) != self.header("host"))
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
