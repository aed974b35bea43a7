//! `vibe:app/db`: the app's own PostgreSQL schema. The embedder provides one [`AppDb`] per app; the
//! runtime opens a [`DbSession`] on the request's first database call and drops it when the
//! request ends (a session must then roll back any open transaction and release its connection).
//!
//! The host implements these over connections logged in as the app's own role (ARCHITECTURE.md,
//! decision 4). When a request's deadline passes, the runtime drops the request's futures, the
//! running statement's among them: an implementation must cancel the statement on the server
//! when its future is dropped. [`NoDatabase`] serves apps without a database.

use async_trait::async_trait;

use crate::bindings::db::{Error as DbError, Host, RowSet, Value};
use crate::state::RequestState;

/// One app's database. Opens one session per request that uses it.
#[async_trait]
pub trait AppDb: Send + Sync {
    /// A session for one request; its error is returned to the app.
    async fn session(&self) -> Result<Box<dyn DbSession>, DbError>;
}

/// One request's use of the app's database: one connection while a transaction is open.
#[async_trait]
pub trait DbSession: Send {
    /// Runs a statement returning rows, `$1`... bound to `params`.
    async fn query(&mut self, sql: &str, params: Vec<Value>) -> Result<RowSet, DbError>;
    /// Runs a statement and returns the number of rows it affected.
    async fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, DbError>;
    /// Starts a transaction.
    async fn begin(&mut self) -> Result<(), DbError>;
    /// Commits the open transaction.
    async fn commit(&mut self) -> Result<(), DbError>;
    /// Rolls back the open transaction.
    async fn rollback(&mut self) -> Result<(), DbError>;
}

/// The database of an app that has none: every call answers `unavailable`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDatabase;

#[async_trait]
impl AppDb for NoDatabase {
    async fn session(&self) -> Result<Box<dyn DbSession>, DbError> {
        Err(DbError::Unavailable("this app has no database".to_owned()))
    }
}

impl RequestState {
    /// The request's session, opened on first use.
    async fn db_session(&mut self) -> Result<&mut Box<dyn DbSession>, DbError> {
        if self.db_session.is_none() {
            self.db_session = Some(self.app.capabilities.db.session().await?);
        }
        self.db_session.as_mut().ok_or_else(|| DbError::Unavailable("no session".to_owned()))
    }
}

impl Host for RequestState {
    async fn query(&mut self, sql: String, params: Vec<Value>) -> wasmtime::Result<Result<RowSet, DbError>> {
        Ok(match self.db_session().await {
            Ok(session) => session.query(&sql, params).await,
            Err(error) => Err(error),
        })
    }

    async fn execute(&mut self, sql: String, params: Vec<Value>) -> wasmtime::Result<Result<u64, DbError>> {
        Ok(match self.db_session().await {
            Ok(session) => session.execute(&sql, params).await,
            Err(error) => Err(error),
        })
    }

    async fn begin(&mut self) -> wasmtime::Result<Result<(), DbError>> {
        Ok(match self.db_session().await {
            Ok(session) => session.begin().await,
            Err(error) => Err(error),
        })
    }

    async fn commit(&mut self) -> wasmtime::Result<Result<(), DbError>> {
        Ok(match self.db_session().await {
            Ok(session) => session.commit().await,
            Err(error) => Err(error),
        })
    }

    async fn rollback(&mut self) -> wasmtime::Result<Result<(), DbError>> {
        Ok(match self.db_session().await {
            Ok(session) => session.rollback().await,
            Err(error) => Err(error),
        })
    }
}
