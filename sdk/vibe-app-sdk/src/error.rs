//! The error a handler returns, and the response it becomes.
//!
//! Policy: a 4xx tells the client what was wrong with its request (a message, and for a 422 one
//! message per field). A 5xx tells the client only that something went wrong; the detail (an SQL
//! message, a store's error) goes to the app's log, never into the response. Every error answers
//! in the platform's shape, `{"error":{"code","message","fields"?}}`, to clients that want JSON
//! and as a small HTML page to browsers.

use std::fmt;

use serde_json::{Map, Value, json};

use crate::html::{Html, page};
use crate::response::Response;
use crate::validate::FormErrors;

/// What handlers return: a response, or an [`Error`] that becomes one.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An HTTP error: a status, a code, a message for the client, and for a 5xx a detail for the log.
#[derive(Clone, Debug)]
pub struct Error {
    status: u16,
    code: &'static str,
    message: String,
    fields: FormErrors,
    detail: Option<String>,
    headers: Vec<(String, String)>,
}

impl Error {
    /// An error with `status`, a `code` (snake_case) and a `message` shown to the client.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Error {
        Error {
            status,
            code,
            message: message.into(),
            fields: FormErrors::new(),
            detail: None,
            headers: Vec::new(),
        }
    }

    /// 400: the request is malformed; `message` says how.
    pub fn bad_request(message: impl Into<String>) -> Error {
        Error::new(400, "bad_request", message)
    }

    /// 401: the request needs a signed-in user.
    pub fn unauthorized() -> Error {
        Error::new(401, "unauthorized", "Please sign in.")
    }

    /// 403: the user may not do this.
    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::new(403, "forbidden", message)
    }

    /// 404: nothing here.
    pub fn not_found() -> Error {
        Error::new(404, "not_found", "There is nothing at this address.")
    }

    /// 405, with the methods the path allows (the `Allow` header).
    pub fn method_not_allowed(allowed: &[&str]) -> Error {
        Error::new(405, "method_not_allowed", "This address does not accept this method.")
            .with_header("allow", allowed.join(", "))
    }

    /// 409: the request conflicts with what is stored (a duplicate, a row still referenced).
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::new(409, "conflict", message)
    }

    /// 415: the body is not in a format the handler reads.
    pub fn unsupported_media_type(message: impl Into<String>) -> Error {
        Error::new(415, "unsupported_media_type", message)
    }

    /// 422: fields failed validation; one message per field.
    pub fn validation(fields: FormErrors) -> Error {
        Error { fields, ..Error::new(422, "validation_failed", "Some fields are not valid.") }
    }

    /// 500: something failed inside the app. `detail` goes to the app's log, not to the client.
    pub fn internal(detail: impl Into<String>) -> Error {
        Error { detail: Some(detail.into()), ..Error::new(500, "internal", "Something went wrong.") }
    }

    /// 503: a backend (the database, the store) cannot be reached now. `detail` is logged.
    pub fn unavailable(detail: impl Into<String>) -> Error {
        Error {
            detail: Some(detail.into()),
            ..Error::new(503, "unavailable", "The app cannot answer right now; please try again.")
        }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Error {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The code, such as `not_found`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message shown to the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The failed fields of a 422.
    pub fn fields(&self) -> &FormErrors {
        &self.fields
    }

    /// The response, as JSON when `json`, else as an HTML page. Logs the detail of a 5xx.
    pub fn into_response(self, json: bool) -> Response {
        if let Some(detail) = &self.detail {
            crate::log::write(crate::log::Level::Error, &format!("{} {}: {detail}", self.status, self.code));
        }
        let mut response = if json {
            let mut error = json!({ "code": self.code, "message": self.message });
            if !self.fields.is_empty() {
                let fields: Map<String, Value> =
                    self.fields.iter().map(|(name, message)| (name.to_owned(), message.into())).collect();
                error["fields"] = Value::Object(fields);
            }
            Response::json(&json!({ "error": error }))
        } else {
            let items: Html = self
                .fields
                .iter()
                .map(|(name, message)| crate::html!("<li>{}: {}</li>", name, message))
                .collect();
            let title = format!("{} {}", self.status, reason(self.status));
            let body = crate::html!("<h1>{}</h1><p>{}</p><ul>{}</ul>", title, self.message, items);
            Response::html(page(&title, body))
        };
        response = response.with_status(self.status);
        for (name, value) in self.headers {
            response = response.with_header(&name, value);
        }
        response
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)?;
        match &self.detail {
            Some(detail) => write!(f, " ({detail})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

impl From<FormErrors> for Error {
    fn from(fields: FormErrors) -> Error {
        Error::validation(fields)
    }
}

/// The reason phrase of the statuses the SDK gives.
fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_name_each_field_in_json() {
        let mut fields = FormErrors::new();
        fields.add("title", "is required");
        let response = Error::from(fields).into_response(true);
        assert_eq!(response.status(), 422);
        let body: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["error"]["fields"]["title"], "is required");
    }

    #[test]
    fn internal_details_stay_out_of_the_response() {
        let response = Error::internal("SELECT secret FROM users failed").into_response(false);
        assert_eq!(response.status(), 500);
        let body = String::from_utf8_lossy(response.body());
        assert!(body.contains("Something went wrong."), "{body}");
        assert!(!body.contains("secret"), "{body}");
    }

    #[test]
    fn html_errors_escape_and_carry_headers() {
        let response = Error::bad_request("<script>").into_response(false);
        assert!(String::from_utf8_lossy(response.body()).contains("&lt;script&gt;"));
        let response = Error::method_not_allowed(&["GET", "POST"]).into_response(true);
        assert_eq!(response.status(), 405);
        assert_eq!(response.header("Allow"), Some("GET, POST"));
    }
}
