//! Responses: a status, headers and a body, built with short constructors
//! ([`Response::html`], [`Response::json`], [`Response::redirect`], ...) and `with_` adjusters.

use serde::Serialize;

use crate::html::Html;

/// An HTTP response, written out by the SDK after the handler returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// A response with `status`, no headers and no body.
    pub fn new(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    /// 200 with an HTML body.
    pub fn html(html: Html) -> Response {
        Response::new(200)
            .with_header("content-type", "text/html; charset=utf-8")
            .with_body(html.into_string().into_bytes())
    }

    /// 200 with a plain-text body.
    pub fn text(text: impl Into<String>) -> Response {
        Response::new(200)
            .with_header("content-type", "text/plain; charset=utf-8")
            .with_body(text.into().into_bytes())
    }

    /// 200 with `value` as JSON. A value that cannot be serialized (a map with non-string keys)
    /// gives a logged 500 instead.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(body) => Response::new(200).with_header("content-type", "application/json").with_body(body),
            Err(error) => crate::Error::internal(format!("the response cannot be serialized: {error}"))
                .into_response(true),
        }
    }

    /// 303 See Other to `location`: where a form post sends the browser next. Use
    /// [`crate::Request::redirect`] for the app's own paths, so the app's address prefix is kept.
    pub fn redirect(location: &str) -> Response {
        Response::new(303).with_header("location", location)
    }

    /// 204 No Content.
    pub fn no_content() -> Response {
        Response::new(204)
    }

    /// This response with `status` instead.
    pub fn with_status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// This response with the header `name` set to `value` (replacing any value it had).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(existing, _)| *existing != name);
        self.headers.push((name, value.into()));
        self
    }

    /// This response with `body` instead.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The value of header `name` (any case), if set.
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

    /// The body as text (lossy), for tests.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn into_parts(self) -> (u16, Vec<(String, String)>, Vec<u8>) {
        (self.status, self.headers, self.body)
    }
}

impl From<Html> for Response {
    fn from(html: Html) -> Response {
        Response::html(html)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_type_and_status() {
        let html = Response::html(Html::text("<"));
        assert_eq!((html.status(), html.header("Content-Type")), (200, Some("text/html; charset=utf-8")));
        assert_eq!(html.body(), b"&lt;");
        let json = Response::json(&serde_json::json!({"a": 1})).with_status(201);
        assert_eq!((json.status(), json.body_text().as_str()), (201, "{\"a\":1}"));
        let redirect = Response::redirect("/entries");
        assert_eq!((redirect.status(), redirect.header("location")), (303, Some("/entries")));
    }

    #[test]
    fn headers_replace_case_insensitively() {
        let response = Response::text("x").with_header("Content-Type", "text/csv");
        assert_eq!(response.headers(), [("content-type".to_owned(), "text/csv".to_owned())]);
    }

    #[test]
    fn unserializable_json_is_a_500() {
        let map: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        assert_eq!(Response::json(&map).status(), 500);
    }
}
