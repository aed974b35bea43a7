//! The one place that knows where the SDK runs. In a component (wasm32) these are the
//! `vibe:app` imports themselves. Anywhere else (an app's unit tests on the host) they are
//! stand-ins with the same signatures: the database, key-value store and configuration answer
//! "unavailable", and the log goes to stderr, so host tests see errors instead of panics.

#[cfg(target_arch = "wasm32")]
pub(crate) use crate::bindings::vibe::app::{config, db, kv, log};

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use host::{config, db, kv, log};

#[cfg(not(target_arch = "wasm32"))]
mod host {
    const OFF: &str = "not running in the apps runtime";

    pub(crate) mod db {
        pub(crate) use crate::bindings::vibe::app::db::{Error, RowSet, Value};

        pub(crate) fn query(_sql: &str, _params: &[Value]) -> Result<RowSet, Error> {
            Err(Error::Unavailable(super::OFF.to_owned()))
        }

        pub(crate) fn execute(_sql: &str, _params: &[Value]) -> Result<u64, Error> {
            Err(Error::Unavailable(super::OFF.to_owned()))
        }

        pub(crate) fn begin() -> Result<(), Error> {
            Err(Error::Unavailable(super::OFF.to_owned()))
        }

        pub(crate) fn commit() -> Result<(), Error> {
            Err(Error::Unavailable(super::OFF.to_owned()))
        }

        pub(crate) fn rollback() -> Result<(), Error> {
            Err(Error::Unavailable(super::OFF.to_owned()))
        }
    }

    pub(crate) mod kv {
        pub(crate) use crate::bindings::vibe::app::kv::Error;

        pub(crate) fn get(_key: &str) -> Result<Option<Vec<u8>>, Error> {
            Err(Error::Unavailable(super::OFF.to_owned()))
        }

        pub(crate) fn set(_key: &str, _value: &[u8]) -> Result<(), Error> {
            Err(Error::Unavailable(super::OFF.to_owned()))
        }

        pub(crate) fn delete(_key: &str) -> Result<(), Error> {
            Err(Error::Unavailable(super::OFF.to_owned()))
        }

        pub(crate) fn list_keys(_prefix: &str) -> Result<Vec<String>, Error> {
            Err(Error::Unavailable(super::OFF.to_owned()))
        }
    }

    pub(crate) mod config {
        pub(crate) use crate::bindings::vibe::app::config::Error;

        pub(crate) fn get(_name: &str) -> Result<Option<String>, Error> {
            Err(Error::Unavailable(super::OFF.to_owned()))
        }

        pub(crate) fn list_names() -> Result<Vec<String>, Error> {
            Err(Error::Unavailable(super::OFF.to_owned()))
        }
    }

    pub(crate) mod log {
        pub(crate) use crate::bindings::vibe::app::log::Level;

        pub(crate) fn log(level: Level, message: &str) {
            eprintln!("[{level:?}] {message}");
        }
    }
}
