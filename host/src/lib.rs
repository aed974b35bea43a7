//! Vibe's host: one process that serves the API, runs the conversation engine and the agents,
//! builds apps and serves them.
//!
//! `main.rs` only parses the command line; everything a test needs to drive the server
//! in-process (the router, the state, the database setup) is reachable from here.

pub mod agents;
pub mod api;
pub mod apps;
pub mod auth;
pub mod build;
pub mod config;
pub mod conversation;
pub mod db;
pub mod error;
pub mod events;
pub mod jobs;
pub mod ledger;
pub mod llm;
pub mod mail;
pub mod ops;
pub mod secrets;
pub mod serve;
pub mod spec;
pub mod state;
pub mod telemetry;
pub mod users;
pub mod web;

pub use api::app;
pub use state::AppState;
