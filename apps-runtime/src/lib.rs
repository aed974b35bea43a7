//! The apps runtime: runs each generated app, a `wasi:http` component, in-process with a fresh
//! sandbox per request and per-app limits.
//!
//! One [`Runtime`] holds the single wasmtime engine (pooling allocator, copy-on-write memory
//! images, epoch-metered CPU budgets; `engine.rs`) and the on-disk cache of precompiled artifacts
//! (`cache.rs`). [`Runtime::load`] turns a component into a [`LoadedApp`]: compiled once per
//! digest, pre-instantiated once against the `vibe:app` world (`bindings.rs`), refused with a
//! reason if it is not an app; [`Runtime::register`] gives a [`LazyApp`] that does so on its
//! first request and unloads again when idle (`lazy.rs`). [`LoadedApp::handle`] serves one
//! request in a fresh store (`http.rs`), under the app's [`Limits`] (`limits.rs`); whatever goes
//! wrong becomes a clean error response with a request id and an entry in the app's log
//! (`failure.rs`, `log.rs`).
//!
//! What an app may touch is only what [`Capabilities`] gives it: its database ([`AppDb`]),
//! key-value store ([`AppKv`]), configuration ([`AppConfig`]), log ([`LogSink`]) and the hosts of
//! its [`OutboundPolicy`]; WASI itself grants nothing (`sandbox.rs`, `stdio.rs`, `outbound.rs`).
//!
//! See ARCHITECTURE.md, decisions 2 and 3.

mod app;
mod bindings;
mod cache;
mod capabilities;
mod config;
mod db;
mod engine;
mod error;
mod failure;
mod http;
mod kv;
mod lazy;
mod limits;
mod log;
mod outbound;
mod runtime;
mod sandbox;
mod state;
mod stdio;
pub mod tenant;

pub use app::LoadedApp;
pub use bindings::config::Error as ConfigError;
pub use bindings::db::{Error as DbError, RowSet, SqlError, Value as DbValue};
pub use bindings::kv::Error as KvError;
pub use cache::CacheStats;
pub use capabilities::Capabilities;
pub use config::{AppConfig, StaticConfig};
pub use db::{AppDb, DbSession, NoDatabase};
pub use engine::{CpuMeter, PoolConfig, RuntimeConfig};
pub use error::{LoadError, RuntimeError};
pub use failure::REQUEST_ID_HEADER;
pub use http::{RequestStats, ResponseBody};
pub use kv::{AppKv, KvLimits, MemoryKv};
pub use lazy::LazyApp;
pub use limits::Limits;
pub use log::{LogEntry, LogLevel, LogSink, LogSource, MemoryLogSink};
pub use outbound::OutboundPolicy;
pub use runtime::{ComponentSource, Runtime};
