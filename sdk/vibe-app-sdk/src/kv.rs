//! The app's key-value store (`vibe:app/kv`): private to the app, kept across requests. Values
//! are bytes; [`get_json`] and [`set_json`] store any serde type as JSON.
//!
//! Each call is one round trip and there are no transactions: a read followed by a write is not
//! atomic across concurrent requests (use the database for counters that must be exact).

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::sys::kv as sys;

/// Why a key-value call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The key or the value is larger than the host accepts.
    TooLarge(String),
    /// The app's store is full.
    QuotaExceeded(String),
    /// The store cannot be reached right now.
    Unavailable(String),
    /// A stored value is not the JSON [`get_json`] expected.
    Decode(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooLarge(why) => write!(f, "too large: {why}"),
            Error::QuotaExceeded(why) => write!(f, "quota exceeded: {why}"),
            Error::Unavailable(why) => write!(f, "key-value store unavailable: {why}"),
            Error::Decode(why) => write!(f, "stored value cannot be read: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<sys::Error> for Error {
    fn from(error: sys::Error) -> Error {
        match error {
            sys::Error::TooLarge(why) => Error::TooLarge(why),
            sys::Error::QuotaExceeded(why) => Error::QuotaExceeded(why),
            sys::Error::Unavailable(why) => Error::Unavailable(why),
        }
    }
}

/// An unreachable store is a 503, a value too large for it a 413, anything else a logged 500.
impl From<Error> for crate::Error {
    fn from(error: Error) -> crate::Error {
        match error {
            Error::Unavailable(_) => crate::Error::unavailable(error.to_string()),
            Error::TooLarge(_) => crate::Error::new(413, "payload_too_large", "That is too large to store."),
            other => crate::Error::internal(other.to_string()),
        }
    }
}

/// The value stored under `key`, if any.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    Ok(sys::get(key)?)
}

/// Stores `value` under `key`, replacing any previous value.
pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
    Ok(sys::set(key, value.as_ref())?)
}

/// Removes `key`; removing a missing key is not an error.
pub fn delete(key: &str) -> Result<(), Error> {
    Ok(sys::delete(key)?)
}

/// The keys that start with `prefix` (all keys for `""`), in ascending order.
pub fn list(prefix: &str) -> Result<Vec<String>, Error> {
    Ok(sys::list_keys(prefix)?)
}

/// The value under `key` read from JSON, if any.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    match get(key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| Error::Decode(format!("`{key}`: {error}"))),
    }
}

/// Stores `value` as JSON under `key`.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value).map_err(|error| Error::Decode(format!("`{key}`: {error}")))?;
    set(key, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_become_the_right_statuses() {
        assert_eq!(crate::Error::from(Error::Unavailable("x".into())).status(), 503);
        assert_eq!(crate::Error::from(Error::TooLarge("x".into())).status(), 413);
        assert_eq!(crate::Error::from(Error::QuotaExceeded("x".into())).status(), 500);
        assert!(matches!(get_json::<u64>("visits"), Err(Error::Unavailable(_))));
    }
}
