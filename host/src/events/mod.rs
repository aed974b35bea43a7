//! Live events: what the seed's WebSocket carries (`agent:message`, `build:progress`, …).
//!
//! Publishing stores the event in the `events` table and sends its id with `NOTIFY` in the same statement;
//! every `vibe` process on the database LISTENs, loads the event and fans it out to its own WebSocket
//! clients. So events reach clients of every process, and a client that reconnects catches up from the
//! table by the last id it saw.
//!
//! # For clients
//!
//! Connect to `GET /api/ws` with your login: the `vibe_session` cookie (browsers do this by themselves),
//! an `Authorization: Bearer <token>` header, or `?token=<token>` (browsers cannot set headers on a
//! WebSocket). A handshake from a page of another site is refused with 403; a missing or invalid login
//! with 401. The server then sends one JSON text frame per event:
//!
//! ```json
//! {"id": 42, "type": "agent:message", "idea_id": "…", "data": {"content": "…"}, "at": "2026-11-26T10:00:00Z"}
//! ```
//!
//! - `id`: increases with every event of the cluster (not by one: you only see your events);
//! - `type`: one of
//!   - `agent:message`: an agent answered in a session of the idea;
//!   - `agent:thinking`: an agent is working on an answer;
//!   - `agent:tool_call`: an agent is using a tool;
//!   - `build:progress`: a build of the idea's app advanced (`data` says which step);
//!   - `app:status`: an app changed state (building, deployed, paused, failed);
//!   - `notification`: something for you personally (an invitation, an alert);
//!   - `spec:updated`: the idea's app spec has a new version, or the owner confirmed one
//!     (`data`: `version`, `confirmed`, `written_by` or `confirmed_by`);
//! - `idea_id`, `app_id`: what the event is about, present when it is about one;
//! - `data`: the event's details, an object whose fields depend on `type`;
//! - `at`: when it happened (RFC 3339).
//!
//! You receive an event about an idea if you have a role on the idea (or it is public), one about an app
//! if you have a role on the app, and a personal one only if it is yours.
//!
//! To resume after a disconnect, reconnect with `?since=<the largest id you received>`: you first get
//! the events you missed (the last 500 at most, from the cluster's most recent 10,000), then live ones,
//! each exactly once. Without `since` you get live events only. The server pings every 25 seconds and
//! closes a connection that answers nothing for a minute, whose login was revoked (code 1008), or
//! when it shuts down (code 1001, "going away": reconnect with `since`). Messages you send are ignored.

pub mod bus;
mod stream;
pub mod visibility;
pub mod ws;

pub use bus::{Event, EventBus, EventKind, LiveEvent, StoredEvent, publish_in, publish_with};
pub use visibility::Audience;
