//! The app's own PostgreSQL schema (`vibe:app/db`): statements with `$1, $2, ...` parameters
//! bound from Rust values, rows read by column name, and transactions that roll back unless
//! committed.
//!
//! ```no_run
//! # use vibe_app_sdk::db;
//! # fn demo() -> Result<(), db::Error> {
//! let id: i64 = db::query_value("INSERT INTO entries (name) VALUES ($1) RETURNING id", &[&"Ada"])?;
//! for row in db::query("SELECT id, name FROM entries WHERE id > $1", &[&0])? {
//!     let name: String = row.get("name")?;
//! }
//! db::transaction(|| {
//!     db::execute("DELETE FROM entries WHERE id = $1", &[&id])?;
//!     db::execute("INSERT INTO audit (what) VALUES ($1)", &[&"deleted"])?;
//!     Ok::<_, db::Error>(())
//! })?;
//! # Ok(()) }
//! ```
//!
//! Parameters are always bound, never spliced into the SQL, so values cannot inject SQL. An
//! error converts into a response error with `?` in a handler: a unique or foreign-key violation
//! becomes a 409, a timeout or an unreachable database a 503, anything else a logged 500.

mod row;
mod value;

use std::fmt;
use std::rc::Rc;

pub use row::{FromRow, Row};
pub use value::{FromSql, ToSql};

/// A parameter or column value as the database interface carries it (for [`ToSql`] and
/// [`FromSql`] impls of the app's own types).
pub use crate::bindings::vibe::app::db::Value;
use crate::sys::db as sys;

/// Why a database call failed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The database refused the statement.
    Sql {
        /// The SQLSTATE, such as `23505` (unique violation).
        sqlstate: String,
        /// The database's message.
        message: String,
    },
    /// A parameter or a column has a type the interface does not carry (cast it in SQL).
    UnsupportedType(String),
    /// `begin` inside a transaction, or `commit`/`rollback` outside one.
    TransactionState(String),
    /// The result is larger than the host returns in one call.
    TooLarge(String),
    /// The statement was cancelled because the request's deadline passed.
    Timeout,
    /// The app has no database, or it cannot be reached right now.
    Unavailable(String),
    /// A column is missing from a row or holds another type than the one asked for.
    Column(String),
    /// The query returned no row where one was expected ([`query_value`]).
    NoRow,
}

impl Error {
    /// The SQLSTATE of an SQL error.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Sql { sqlstate, .. } => Some(sqlstate),
            _ => None,
        }
    }

    /// Whether a unique constraint refused the statement (a duplicate).
    pub fn is_unique_violation(&self) -> bool {
        self.sqlstate() == Some("23505")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sql { sqlstate, message } => write!(f, "SQL error {sqlstate}: {message}"),
            Error::UnsupportedType(why) => write!(f, "unsupported type: {why}"),
            Error::TransactionState(why) => write!(f, "transaction state: {why}"),
            Error::TooLarge(why) => write!(f, "result too large: {why}"),
            Error::Timeout => f.write_str("the statement was cancelled at the request's deadline"),
            Error::Unavailable(why) => write!(f, "database unavailable: {why}"),
            Error::Column(why) => f.write_str(why),
            Error::NoRow => f.write_str("the query returned no row"),
        }
    }
}

impl std::error::Error for Error {}

impl From<sys::Error> for Error {
    fn from(error: sys::Error) -> Error {
        match error {
            sys::Error::Sql(sql) => Error::Sql { sqlstate: sql.sqlstate, message: sql.message },
            sys::Error::UnsupportedType(why) => Error::UnsupportedType(why),
            sys::Error::TransactionState(why) => Error::TransactionState(why),
            sys::Error::TooLarge(why) => Error::TooLarge(why),
            sys::Error::Timeout => Error::Timeout,
            sys::Error::Unavailable(why) => Error::Unavailable(why),
        }
    }
}

impl From<Error> for crate::Error {
    fn from(error: Error) -> crate::Error {
        match error.sqlstate() {
            Some("23505") => return crate::Error::conflict("That already exists."),
            Some("23503") => {
                return crate::Error::conflict(
                    "It refers to something missing, or something else refers to it.",
                );
            }
            _ => {}
        }
        match error {
            Error::Timeout | Error::Unavailable(_) => crate::Error::unavailable(error.to_string()),
            other => crate::Error::internal(other.to_string()),
        }
    }
}

fn values(params: &[&dyn ToSql]) -> Vec<Value> {
    params.iter().map(|param| param.to_sql()).collect()
}

/// Runs a statement that returns rows.
pub fn query(sql: &str, params: &[&dyn ToSql]) -> Result<Vec<Row>, Error> {
    let set = sys::query(sql, &values(params))?;
    let columns: Rc<[String]> = set.columns.into();
    Ok(set.rows.into_iter().map(|values| Row::new(columns.clone(), values)).collect())
}

/// The first row a statement returns, if any.
pub fn query_one(sql: &str, params: &[&dyn ToSql]) -> Result<Option<Row>, Error> {
    Ok(query(sql, params)?.into_iter().next())
}

/// Every row, each read as `T`.
pub fn query_as<T: FromRow>(sql: &str, params: &[&dyn ToSql]) -> Result<Vec<T>, Error> {
    query(sql, params)?.iter().map(T::from_row).collect()
}

/// The first row read as `T`, if there is one (`.ok_or_else(Error::not_found)?` in a handler).
pub fn query_one_as<T: FromRow>(sql: &str, params: &[&dyn ToSql]) -> Result<Option<T>, Error> {
    query_one(sql, params)?.as_ref().map(T::from_row).transpose()
}

/// The first column of the first row (`SELECT count(*) ...`, `INSERT ... RETURNING id`);
/// [`Error::NoRow`] when there is no row.
pub fn query_value<T: FromSql>(sql: &str, params: &[&dyn ToSql]) -> Result<T, Error> {
    query_one(sql, params)?.ok_or(Error::NoRow)?.first()
}

/// Runs a statement and returns the number of rows it affected.
pub fn execute(sql: &str, params: &[&dyn ToSql]) -> Result<u64, Error> {
    Ok(sys::execute(sql, &values(params))?)
}

/// An open transaction: rolled back when dropped unless [`Transaction::commit`] was called.
/// The host also rolls back a transaction still open when the request ends.
#[derive(Debug)]
#[must_use = "a transaction rolls back when dropped; call commit"]
pub struct Transaction {
    open: bool,
}

/// Starts a transaction.
pub fn begin() -> Result<Transaction, Error> {
    sys::begin()?;
    Ok(Transaction { open: true })
}

impl Transaction {
    /// Commits it.
    pub fn commit(mut self) -> Result<(), Error> {
        self.open = false;
        Ok(sys::commit()?)
    }

    /// Rolls it back.
    pub fn rollback(mut self) -> Result<(), Error> {
        self.open = false;
        Ok(sys::rollback()?)
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.open {
            // Nothing to report to: the request is already failing, and the host rolls back
            // whatever is still open when the request ends.
            let _ = sys::rollback();
        }
    }
}

/// Runs `work` in a transaction: committed when it returns `Ok`, rolled back when it returns
/// `Err` (or panics).
pub fn transaction<T, E: From<Error>>(work: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let transaction = begin()?;
    let value = work()?;
    transaction.commit()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_become_the_right_statuses() {
        let sql = |state: &str| Error::Sql { sqlstate: state.into(), message: "secret detail".into() };
        assert_eq!(crate::Error::from(sql("23505")).status(), 409);
        assert_eq!(crate::Error::from(sql("23503")).status(), 409);
        let internal = crate::Error::from(sql("42P01"));
        assert_eq!(internal.status(), 500);
        assert!(!internal.message().contains("secret"));
        assert_eq!(crate::Error::from(Error::Timeout).status(), 503);
        assert_eq!(crate::Error::from(Error::Unavailable("down".into())).status(), 503);
    }

    #[test]
    fn outside_the_runtime_the_database_is_unavailable() {
        let error = query("SELECT 1", &[]).unwrap_err();
        assert!(matches!(error, Error::Unavailable(_)), "{error}");
        let result: Result<(), Error> = transaction(|| Ok(()));
        assert!(matches!(result, Err(Error::Unavailable(_))));
    }
}
