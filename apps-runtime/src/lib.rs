//! The apps runtime: runs each generated app, a `wasi:http` component, in-process with a
//! fresh sandbox per request, per-app limits and an isolated Postgres schema.
//!
//! See ARCHITECTURE.md, decisions 2 to 4.
