//! The agent registry: which plugins exist, which versions may run, and which version serves which
//! agent type.
//!
//! - `package.rs`: the manifest and its canonical form; `signing.rs`: ed25519 publisher keys and
//!   signatures; `verify.rs`: every refusal, in order, before compiling; `catalog.rs`: publishing,
//!   listing, approval, deprecation; `store.rs`: where plugin bytes live (the shared artifact store).
//! - `routing/`: per agent type, versions and weights, kept in memory in every process and changed
//!   through Postgres with `LISTEN/NOTIFY`; `track.rs`: each version's track record.
//! - `cli.rs`: `vibe plugin …` and `vibe agent …`.

pub mod catalog;
pub mod cli;
pub mod package;
pub mod routing;
pub mod signing;
pub mod store;
pub mod track;
pub mod verify;
