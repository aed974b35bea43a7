//! The build service: a confirmed spec becomes a live, tested, versioned app.
//!
//! The stages, each its own file:
//! - [`codegen`]: spec → the files of a Rust crate on `vibe-app-sdk` (`src/` and `migrations/`),
//!   deterministic templates; a new version of a live app adds a migration for what the spec added.
//! - [`plan`]: spec → the tests every generated app must pass (pages render, create/list/update/delete
//!   of each entity, validation errors, role checks), as data.
//! - [`workspace`] and [`compiler`]: the files, under the platform's own crate manifest, compiled
//!   offline by cargo to a `wasm32-wasip2` component in a build workspace under the data directory
//!   with a shared dependency cache and target directory; time, memory and concurrency limits.
//! - [`runner`]: the plan run against the built component inside the apps runtime, on a throw-away
//!   schema.
//! - [`repair`]: with an LLM configured, the compiler's or the tests' errors handed to the
//!   build agent, whose corrected `src/` files come back for the next attempt.
//! - [`repo`]: every app's code in a git repository of its own, one commit per version.
//! - [`pipeline`]: the durable `build` job that runs the stages in order, records them, streams
//!   `build:progress`, and deploys only a green build.

pub mod codegen;
pub mod compiler;
pub mod pipeline;
pub mod plan;
pub mod repair;
pub mod repo;
pub mod runner;
pub mod workspace;
