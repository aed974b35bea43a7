//! What can go wrong while serving one request, and the clean response each becomes. The client
//! sees a status, a short message and the request id (`{"error":{"code","message","request_id"}}`,
//! the platform's error shape, and an `x-request-id` header); the app's owner sees the details in
//! the app's log. Nothing here affects another request or another app.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::Full;
use wasmtime::{PoolConcurrencyLimitError, Trap};

use crate::log::LogLevel;
use crate::state::CpuUsage;

/// The header carrying the request id on every response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Why a request did not get the app's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The app already serves its maximum of concurrent requests.
    Busy { limit: u32 },
    /// The server has no instance slot left (all apps together).
    Saturated,
    /// The request body exceeds the app's limit.
    RequestTooLarge { limit: u64 },
    /// The request could not be read or handed to the app.
    BadRequest(String),
    /// The client did not send its body before the deadline.
    RequestTimeout,
    /// The app used up its CPU budget.
    CpuBudget { cpu_ms: u64 },
    /// The request exceeded its wall-clock deadline.
    Deadline { deadline_ms: u64 },
    /// The app hit its memory limit (and then failed).
    Memory { limit: u64 },
    /// The app overflowed its stack.
    StackOverflow,
    /// The app trapped (a panic, an out-of-bounds access...).
    Trap(String),
    /// The app returned without answering.
    NoResponse,
    /// The app's response body exceeds its limit.
    ResponseTooLarge { limit: u64 },
    /// The app answered with a `wasi:http` error code instead of a response.
    AppError(String),
    /// The app's component could not be loaded (its artifact is missing or unusable).
    Unloadable(String),
    /// The runtime itself failed (a bug; logged).
    Internal(String),
}

impl Failure {
    /// Classifies the error that ended a guest's run, using what its store recorded.
    pub(crate) fn from_guest(
        error: &wasmtime::Error,
        cpu: CpuUsage,
        memory_refused: bool,
        limits: &crate::Limits,
    ) -> Failure {
        if cpu.exhausted {
            return Failure::CpuBudget { cpu_ms: limits.cpu_ms };
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel | Trap::Interrupt) => return Failure::CpuBudget { cpu_ms: limits.cpu_ms },
            Some(Trap::StackOverflow) => return Failure::StackOverflow,
            _ => {}
        }
        if memory_refused {
            return Failure::Memory { limit: limits.memory_bytes };
        }
        if error.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
            return Failure::Saturated;
        }
        Failure::Trap(format!("{error:#}"))
    }

    fn status(&self) -> StatusCode {
        match self {
            Failure::Busy { .. } | Failure::Saturated | Failure::Unloadable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Failure::RequestTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::BadRequest(_) => StatusCode::BAD_REQUEST,
            Failure::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Failure::CpuBudget { .. } | Failure::Deadline { .. } => StatusCode::GATEWAY_TIMEOUT,
            Failure::Memory { .. }
            | Failure::StackOverflow
            | Failure::Trap(_)
            | Failure::NoResponse
            | Failure::ResponseTooLarge { .. }
            | Failure::AppError(_)
            | Failure::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable, machine-readable code.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Failure::Busy { .. } => "app_busy",
            Failure::Saturated => "server_busy",
            Failure::RequestTooLarge { .. } => "payload_too_large",
            Failure::BadRequest(_) => "bad_request",
            Failure::RequestTimeout => "request_timeout",
            Failure::CpuBudget { .. } => "app_cpu_budget_exceeded",
            Failure::Deadline { .. } => "app_deadline_exceeded",
            Failure::Memory { .. } => "app_memory_limit_exceeded",
            Failure::StackOverflow => "app_stack_overflow",
            Failure::Trap(_) => "app_trapped",
            Failure::NoResponse => "app_no_response",
            Failure::ResponseTooLarge { .. } => "app_response_too_large",
            Failure::AppError(_) => "app_error",
            Failure::Unloadable(_) => "app_unavailable",
            Failure::Internal(_) => "internal",
        }
    }

    /// What the client is told: no internals, nothing of the app's own error text.
    fn public_message(&self) -> String {
        match self {
            Failure::Busy { .. } => {
                "the app is serving as many requests as it may; try again shortly".to_owned()
            }
            Failure::Saturated => "the server is at capacity; try again shortly".to_owned(),
            Failure::RequestTooLarge { limit } => {
                format!("the request body exceeds this app's limit of {limit} bytes")
            }
            Failure::BadRequest(reason) => reason.clone(),
            Failure::RequestTimeout => "the request body did not arrive in time".to_owned(),
            Failure::CpuBudget { .. } => "the app used up its CPU time for this request".to_owned(),
            Failure::Deadline { .. } => "the app did not answer in time".to_owned(),
            Failure::Memory { .. } => "the app ran out of memory for this request".to_owned(),
            Failure::StackOverflow | Failure::Trap(_) | Failure::NoResponse | Failure::AppError(_) => {
                "the app failed while handling this request".to_owned()
            }
            Failure::ResponseTooLarge { .. } => "the app's response was larger than it may be".to_owned(),
            Failure::Unloadable(_) => "the app cannot be started right now".to_owned(),
            Failure::Internal(_) => "internal error".to_owned(),
        }
    }

    /// What the app's owner is told, in the app's log.
    pub(crate) fn log_message(&self) -> String {
        match self {
            Failure::Busy { limit } => {
                format!("concurrency limit hit: {limit} requests already in flight; answered 503")
            }
            Failure::Saturated => "no instance slot free on this server; answered 503".to_owned(),
            Failure::RequestTooLarge { limit } => {
                format!("request body over the limit of {limit} bytes; answered 413")
            }
            Failure::BadRequest(reason) => format!("bad request: {reason}"),
            Failure::RequestTimeout => {
                "request body not received before the deadline; answered 408".to_owned()
            }
            Failure::CpuBudget { cpu_ms } => {
                format!("CPU budget of {cpu_ms} ms exhausted; stopped, answered 504")
            }
            Failure::Deadline { deadline_ms } => {
                format!("deadline of {deadline_ms} ms passed; stopped, answered 504")
            }
            Failure::Memory { limit } => {
                format!("memory limit of {limit} bytes hit; the app failed, answered 500")
            }
            Failure::StackOverflow => "stack overflow (recursion too deep); answered 500".to_owned(),
            Failure::Trap(detail) => format!("trapped: {detail}"),
            Failure::NoResponse => "returned without setting a response; answered 500".to_owned(),
            Failure::ResponseTooLarge { limit } => {
                format!("response body over the limit of {limit} bytes; answered 500")
            }
            Failure::AppError(code) => format!("answered with the wasi:http error {code}; answered 500"),
            Failure::Unloadable(reason) => format!("cannot load the app's component: {reason}; answered 503"),
            Failure::Internal(detail) => format!("runtime error: {detail}"),
        }
    }

    pub(crate) fn log_level(&self) -> LogLevel {
        match self {
            Failure::Busy { .. }
            | Failure::Saturated
            | Failure::RequestTooLarge { .. }
            | Failure::BadRequest(_)
            | Failure::RequestTimeout => LogLevel::Warn,
            _ => LogLevel::Error,
        }
    }

    /// The response the client gets.
    pub(crate) fn response(&self, request_id: &str) -> http::Response<Full<Bytes>> {
        let body = serde_json::json!({
            "error": { "code": self.code(), "message": self.public_message(), "request_id": request_id }
        });
        let mut response = http::Response::new(Full::new(Bytes::from(body.to_string())));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(value) = HeaderValue::from_str(request_id) {
            headers.insert(REQUEST_ID_HEADER, value);
        }
        if matches!(self, Failure::Busy { .. } | Failure::Saturated) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
