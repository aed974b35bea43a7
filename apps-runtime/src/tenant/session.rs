//! One request's use of its app's database ([`DbSession`]): a connection taken on first use and
//! kept until the request ends, statements under a host-side deadline, a result-size cap, and
//! transactions that `begin`, `commit` and `rollback` alone control.
//!
//! A statement that outlives the per-call deadline is ended on the server and its connection
//! thrown away; one whose future is dropped (the request's deadline) leaves its connection busy,
//! which the [`Lease`] ends in the same way when the session is dropped with the request, or the
//! next call does if the session lives on. A transaction open on such a connection is gone: the
//! session then answers `transaction-state` until the app acknowledges with `rollback`.

use std::sync::Arc;

use async_trait::async_trait;
use futures::TryStreamExt;
use sqlx::postgres::PgDatabaseError;
use sqlx::{Column, Executor, PgConnection, Statement};
use uuid::Uuid;

use super::pool::{Lease, Shared};
use super::values;
use crate::bindings::db::{Error as DbError, RowSet, SqlError, Value};
use crate::db::DbSession;

const LOST: &str = "the transaction was rolled back when its statement was stopped; call rollback";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tx {
    None,
    Open,
    /// Its connection was ended: rolled back on the server, not yet acknowledged by the app.
    Lost,
}

/// Why a statement failed: the database (which may have broken the connection), or a refusal
/// of ours that leaves the connection usable.
enum StatementError {
    Database(sqlx::Error),
    Refused(DbError),
}

impl From<sqlx::Error> for StatementError {
    fn from(error: sqlx::Error) -> Self {
        StatementError::Database(error)
    }
}

type Outcome<T> = Result<Result<T, StatementError>, tokio::time::error::Elapsed>;

pub(super) struct TenantSession {
    shared: Arc<Shared>,
    app_id: Uuid,
    lease: Option<Lease>,
    tx: Tx,
}

impl TenantSession {
    pub(super) fn new(shared: Arc<Shared>, app_id: Uuid) -> Self {
        TenantSession { shared, app_id, lease: None, tx: Tx::None }
    }

    /// A call whose future was dropped left its connection busy: ends it now, and with it any
    /// open transaction. Every call starts with this, before it looks at the transaction.
    async fn settle(&mut self) {
        if self.lease.as_ref().is_some_and(Lease::is_busy) {
            self.discard().await;
        }
    }

    /// The request's connection, taken on first use.
    async fn lease(&mut self) -> Result<&mut Lease, DbError> {
        if self.lease.is_none() {
            self.lease = Some(self.shared.acquire(self.app_id).await?);
        }
        self.lease.as_mut().ok_or_else(|| DbError::Unavailable("no connection".to_owned()))
    }

    async fn discard(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.kill().await;
        }
        if self.tx == Tx::Open {
            self.tx = Tx::Lost;
        }
    }

    /// Settles a statement's outcome: past the deadline or with a broken connection, the
    /// connection is ended on the server and dropped.
    async fn finish<T>(&mut self, outcome: Outcome<T>) -> Result<T, DbError> {
        let (result, broken) = match outcome {
            Err(_elapsed) => (Err(DbError::Timeout), true),
            Ok(Ok(value)) => (Ok(value), false),
            Ok(Err(StatementError::Refused(error))) => (Err(error), false),
            Ok(Err(StatementError::Database(error))) => {
                let (error, broken) = classify(error);
                (Err(error), broken)
            }
        };
        if broken {
            self.discard().await;
        } else if let Some(lease) = self.lease.as_mut() {
            lease.done();
        }
        result
    }

    /// Runs a statement of ours (no parameters, no rows) under the call deadline.
    async fn simple(&mut self, sql: &'static str) -> Result<(), DbError> {
        let deadline = self.shared.settings.call_timeout;
        let conn = self.lease().await?.start()?;
        let outcome = tokio::time::timeout(deadline, run_simple(conn, sql)).await;
        self.finish(outcome).await
    }

    fn check(&self, sql: &str) -> Result<(), DbError> {
        if self.tx == Tx::Lost {
            return Err(DbError::TransactionState(LOST.to_owned()));
        }
        if controls_transaction(sql) {
            return Err(DbError::TransactionState(
                "start and end transactions with begin, commit and rollback, not with SQL".to_owned(),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl DbSession for TenantSession {
    async fn query(&mut self, sql: &str, params: Vec<Value>) -> Result<RowSet, DbError> {
        self.settle().await;
        self.check(sql)?;
        let (deadline, max_bytes) =
            (self.shared.settings.call_timeout, self.shared.settings.max_result_bytes);
        let conn = self.lease().await?.start()?;
        let outcome = tokio::time::timeout(deadline, fetch(conn, sql, &params, max_bytes)).await;
        self.finish(outcome).await
    }

    async fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, DbError> {
        self.settle().await;
        self.check(sql)?;
        let deadline = self.shared.settings.call_timeout;
        let conn = self.lease().await?.start()?;
        let outcome = tokio::time::timeout(deadline, run_execute(conn, sql, &params)).await;
        self.finish(outcome).await
    }

    async fn begin(&mut self) -> Result<(), DbError> {
        self.settle().await;
        match self.tx {
            Tx::Open => Err(DbError::TransactionState("a transaction is already open".to_owned())),
            Tx::Lost => Err(DbError::TransactionState(LOST.to_owned())),
            Tx::None => {
                self.simple("BEGIN").await?;
                self.tx = Tx::Open;
                Ok(())
            }
        }
    }

    async fn commit(&mut self) -> Result<(), DbError> {
        self.settle().await;
        match self.tx {
            Tx::None => Err(DbError::TransactionState("no transaction is open".to_owned())),
            Tx::Lost => {
                self.tx = Tx::None;
                Err(DbError::TransactionState(
                    "the transaction was rolled back when its statement was stopped".to_owned(),
                ))
            }
            Tx::Open => {
                // PostgreSQL answers COMMIT of a failed transaction by rolling back, without an
                // error; ask first, so the app learns that nothing was committed.
                let aborted = match self.simple("SELECT 1").await {
                    Err(DbError::Sql(error)) if error.sqlstate == "25P02" => true,
                    Err(error) => {
                        if self.lease.is_some() {
                            let _ = self.simple("ROLLBACK").await;
                        }
                        self.tx = Tx::None;
                        return Err(error);
                    }
                    Ok(()) => false,
                };
                let result = if aborted {
                    self.simple("ROLLBACK").await.and(Err(DbError::Sql(SqlError {
                        sqlstate: "25P02".to_owned(),
                        message: "the transaction was aborted by an earlier error and has been rolled back"
                            .to_owned(),
                    })))
                } else {
                    self.simple("COMMIT").await
                };
                self.tx = Tx::None;
                result
            }
        }
    }

    async fn rollback(&mut self) -> Result<(), DbError> {
        self.settle().await;
        match self.tx {
            Tx::None => Err(DbError::TransactionState("no transaction is open".to_owned())),
            Tx::Lost => {
                self.tx = Tx::None;
                Ok(())
            }
            Tx::Open => {
                let result = self.simple("ROLLBACK").await;
                self.tx = Tx::None;
                result
            }
        }
    }
}

/// Runs a statement of ours.
async fn run_simple(conn: &mut PgConnection, sql: &'static str) -> Result<(), StatementError> {
    conn.execute(sql).await?;
    Ok(())
}

/// Runs an app's statement and counts the rows it affected.
async fn run_execute(conn: &mut PgConnection, sql: &str, params: &[Value]) -> Result<u64, StatementError> {
    let arguments = values::arguments(params).map_err(StatementError::Refused)?;
    let done = sqlx::query_with(sql, arguments).persistent(false).execute(&mut *conn).await?;
    Ok(done.rows_affected())
}

/// Runs a query and decodes its rows, up to `max_bytes` of them.
async fn fetch(
    conn: &mut PgConnection,
    sql: &str,
    params: &[Value],
    max_bytes: usize,
) -> Result<RowSet, StatementError> {
    let arguments = values::arguments(params).map_err(StatementError::Refused)?;
    let mut columns = None;
    let mut rows = Vec::new();
    let mut size = 0usize;
    {
        let mut stream = sqlx::query_with(sql, arguments).persistent(false).fetch(&mut *conn);
        while let Some(row) = stream.try_next().await? {
            if columns.is_none() {
                columns = Some(values::column_names(&row));
            }
            // On a refusal, the rest of the result is skipped when the connection is next used.
            rows.push(values::decode_row(&row, &mut size, max_bytes).map_err(StatementError::Refused)?);
        }
    }
    let columns = match columns {
        Some(columns) => columns,
        None => describe(conn, sql, params).await?,
    };
    Ok(RowSet { columns, rows })
}

/// The column names of a statement that returned no rows. The statement is prepared under a name
/// (sqlx's only way to describe) and every prepared statement is deallocated right away, so
/// none accumulates on the server.
async fn describe(conn: &mut PgConnection, sql: &str, params: &[Value]) -> Result<Vec<String>, sqlx::Error> {
    let types = values::parameter_types(params);
    let statement = (&mut *conn).prepare_with(sql, &types).await?;
    let columns = statement.columns().iter().map(|column| column.name().to_owned()).collect();
    conn.execute("DEALLOCATE ALL").await?;
    Ok(columns)
}

/// What the app is told, and whether the connection can still be used.
fn classify(error: sqlx::Error) -> (DbError, bool) {
    match error {
        sqlx::Error::Database(database) => {
            let sqlstate = database.code().map(|code| code.into_owned()).unwrap_or_default();
            if sqlstate == "57014" {
                // query_canceled: the server's statement_timeout (or the app cancelling itself).
                return (DbError::Timeout, false);
            }
            if sqlstate.starts_with("08") || sqlstate.starts_with("57P") {
                return (DbError::Unavailable(database.message().to_owned()), true);
            }
            let mut message = database.message().to_owned();
            if let Some(hint) = database.try_downcast_ref::<PgDatabaseError>().and_then(PgDatabaseError::hint)
            {
                message.push_str(" (hint: ");
                message.push_str(hint);
                message.push(')');
            }
            (DbError::Sql(SqlError { sqlstate, message }), false)
        }
        sqlx::Error::Encode(error) => (DbError::UnsupportedType(error.to_string()), false),
        error => {
            tracing::warn!(%error, "an app's database connection failed");
            (DbError::Unavailable("the connection to the app's database failed".to_owned()), true)
        }
    }
}

/// Whether `sql` starts or ends a transaction (`BEGIN`, `START TRANSACTION`, `COMMIT`, `END`,
/// `ROLLBACK` but not `ROLLBACK TO`, `ABORT`, `PREPARE TRANSACTION`), after any comments.
fn controls_transaction(sql: &str) -> bool {
    let mut words = words(sql).map(|word| word.to_ascii_lowercase());
    match words.next().as_deref() {
        Some("begin" | "start" | "commit" | "end" | "abort") => true,
        Some("rollback") => !matches!(words.next().as_deref(), Some("to")),
        Some("prepare") => matches!(words.next().as_deref(), Some("transaction")),
        _ => false,
    }
}

/// The leading words of `sql`, skipping whitespace, `--` comments and nested `/* */` comments.
fn words(sql: &str) -> impl Iterator<Item = &str> {
    let mut rest = sql;
    std::iter::from_fn(move || {
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix("--") {
                rest = after.find('\n').map_or("", |end| &after[end..]);
            } else if rest.starts_with("/*") {
                let mut depth = 0usize;
                let mut end = rest.len();
                let bytes = rest.as_bytes();
                let mut at = 0;
                while at + 1 < bytes.len() {
                    match &bytes[at..at + 2] {
                        b"/*" => {
                            depth += 1;
                            at += 2;
                        }
                        b"*/" => {
                            depth -= 1;
                            at += 2;
                            if depth == 0 {
                                end = at;
                                break;
                            }
                        }
                        _ => at += 1,
                    }
                }
                rest = &rest[end..];
            } else {
                break;
            }
        }
        let end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        let (word, after) = rest.split_at(end);
        rest = after;
        Some(word)
    })
}

#[cfg(test)]
mod tests {
    use super::controls_transaction;

    #[test]
    fn transaction_statements_are_recognised_behind_comments() {
        for sql in [
            "BEGIN",
            "begin;",
            "  START TRANSACTION",
            "COMMIT",
            "end",
            "ABORT",
            "rollback",
            "-- note\nCOMMIT",
            "/* a /* nested */ comment */ begin",
            "PREPARE TRANSACTION 'x'",
            "commit prepared 'x'",
        ] {
            assert!(controls_transaction(sql), "{sql}");
        }
        for sql in [
            "SELECT 1",
            "ROLLBACK TO SAVEPOINT s",
            "rollback to s",
            "SAVEPOINT s",
            "RELEASE s",
            "PREPARE q AS SELECT 1",
            "beginning",
            "",
            "/* unterminated",
            "-- only a comment",
        ] {
            assert!(!controls_transaction(sql), "{sql}");
        }
    }
}
