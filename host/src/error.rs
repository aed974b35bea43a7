//! The API's one error type.
//!
//! Policy: every handler returns `Result<_, ApiError>`. What the client did wrong is answered with a 4xx
//! whose message says what to change (and, for validation, which field). What went wrong on our side is
//! logged in full with the request id and answered with a generic 500 that carries the same request id, so
//! nothing internal (SQL, paths, secrets) ever reaches a client. Every error body has the shape
//! `{"error":{"code":"…","message":"…","field"?:"…","request_id":"…"}}`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::telemetry::current_request_id;

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed (bad JSON, a path id that is not a UUID, …).
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials were presented.
    #[error("authentication required")]
    Unauthorized,
    /// A login with a wrong email or password (one message for both, so accounts cannot be probed).
    #[error("wrong email or password")]
    InvalidCredentials,
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing there, or nothing the caller may see (we never tell the two apart).
    #[error("not found")]
    NotFound,
    /// The request conflicts with the current state (a duplicate, a stale version).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the server accepts.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The path exists but not with this method.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// A field failed validation.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// A document (an app spec) failed validation in several places, each named by a JSON pointer.
    #[error("{field}: {message}")]
    Violations { field: String, message: String, violations: Vec<Violation> },
    /// The caller made too many attempts; retry later.
    #[error("too many requests, try again later")]
    TooManyRequests,
    /// The caller's credit balance does not cover the work.
    #[error("{0}")]
    PaymentRequired(String),
    /// The caller's spending is paused after a consumption spike.
    #[error("{0}")]
    SpendingPaused(String),
    /// Purchases are not configured on this server.
    #[error("{0}")]
    PurchasesNotConfigured(String),
    /// A dependency (the database) is unavailable.
    #[error("service unavailable")]
    Unavailable,
    /// Our fault; details are logged, never returned.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A validation failure of `field`.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation { field: field.into(), message: message.into() }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Validation { .. } | ApiError::Violations { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
            }
            ApiError::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::PaymentRequired(_) => (StatusCode::PAYMENT_REQUIRED, "insufficient_credits"),
            ApiError::SpendingPaused(_) => (StatusCode::FORBIDDEN, "spending_paused"),
            ApiError::PurchasesNotConfigured(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "purchases_not_configured")
            }
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `not_found` or `validation_failed`.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
    /// For validation failures, the field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The id of the request, also in the `x-request-id` header and in the server's logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For a document that failed validation (an app spec), every failure with its place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<Violation>>,
}

/// One failure of a document's validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Violation {
    /// A JSON pointer into the document, e.g. `/entities/0/fields/2/entity`.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let request_id = current_request_id();
        let message = match &self {
            ApiError::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                "internal error; quote the request id when reporting it".to_owned()
            }
            other => other.to_string(),
        };
        let field = match &self {
            ApiError::Validation { field, .. } | ApiError::Violations { field, .. } => Some(field.clone()),
            _ => None,
        };
        let violations = match self {
            ApiError::Violations { violations, .. } => Some(violations),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail { code: code.to_owned(), message, field, request_id, violations },
        };
        (status, axum::Json(body)).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => ApiError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                ApiError::Conflict("that already exists".into())
            }
            sqlx::Error::Database(db) if db.is_check_violation() => {
                ApiError::validation(db.constraint().unwrap_or("body"), "value not allowed")
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => ApiError::Unavailable,
            _ => ApiError::Internal(err.into()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                ApiError::Validation { field: "body".into(), message: e.body_text() }
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// `axum::Json` whose rejections answer in our error shape.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` whose rejections answer in our error shape.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// `axum::extract::Query` whose rejections answer in our error shape.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);
