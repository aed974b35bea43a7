//! Tenant databases against a real PostgreSQL: provisioning, the escapes an app's SQL might try
//! through `vibe:app/db`, cancellation on the server, pooling limits, typed values and
//! transactions. Each test gets a fresh database (`#[sqlx::test]`); roles are cluster-wide, so
//! each uses fresh app ids and deprovisions them at the end.

mod escapes;
mod lifecycle;
mod sessions;
mod support;
