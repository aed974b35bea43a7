//! Live events: what the seed's WebSocket carries (`agent:message`, `build:progress`, …).
//!
//! Publishing stores the event in the `events` table and sends its id with `NOTIFY` in the same statement;
//! every `vibe` process on the database LISTENs, loads the event and fans it out to its own WebSocket
//! clients. So events reach clients of every process, and a client that reconnects catches up from the
//! table by the last id it saw.

pub mod bus;
pub mod ws;

pub use bus::{Event, EventBus, EventKind};
