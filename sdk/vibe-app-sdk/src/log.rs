//! The app's log (`vibe:app/log`), shown to its owner beside the runtime's records. The macros
//! take `format!` arguments: `vibe_app_sdk::info!("signed by {}", name)`. Long messages are
//! truncated by the host.

use crate::sys::log as sys;

/// How important a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Fine-grained detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that did not fail the request.
    Warn,
    /// A failure.
    Error,
}

/// Appends `message` to the app's log.
pub fn write(level: Level, message: &str) {
    let level = match level {
        Level::Trace => sys::Level::Trace,
        Level::Debug => sys::Level::Debug,
        Level::Info => sys::Level::Info,
        Level::Warn => sys::Level::Warn,
        Level::Error => sys::Level::Error,
    };
    sys::log(level, message);
}

/// Logs at [`Level::Trace`](crate::log::Level::Trace), with `format!` arguments.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Trace, &::std::format!($($arg)+)) };
}

/// Logs at [`Level::Debug`](crate::log::Level::Debug), with `format!` arguments.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Debug, &::std::format!($($arg)+)) };
}

/// Logs at [`Level::Info`](crate::log::Level::Info), with `format!` arguments.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)+)) };
}

/// Logs at [`Level::Warn`](crate::log::Level::Warn), with `format!` arguments.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Warn, &::std::format!($($arg)+)) };
}

/// Logs at [`Level::Error`](crate::log::Level::Error), with `format!` arguments.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)+)) };
}
