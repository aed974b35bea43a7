//! The conversation engine: from a person's message to the agent's answer in the transcript.
//!
//! `POST /api/sessions/{id}/message` stores the message and enqueues an `agent_turn` job in the same
//! transaction, then returns; a worker of any `vibe` process runs the turn (`turn.rs`) with the context
//! the agent needs (`context.rs`: the transcript window, the idea's artifacts, the person's profile and
//! preferences, the idea's key facts), and commits the replies, artifacts and hand-off at once. Session
//! state, facts and preferences (`memory.rs`) all live in Postgres, so a restart loses nothing. Every
//! event of a conversation carries the idea's phase and whether guided mode is on, so the UI can adapt.
//!
//! Context pieces agents receive as synthetic artifacts in their turn input (never stored as pipeline
//! artifacts, and names agents may not write): `context.profile` and `context.facts`, see `context.rs`.

pub mod context;
pub mod memory;
pub mod phase;
pub mod turn;

use std::sync::Arc;

use crate::jobs::JobHandler;
use crate::state::AppState;

/// The job handlers of the conversation engine, for the workers of `vibe serve`.
pub fn handlers(state: &AppState) -> Vec<Arc<dyn JobHandler>> {
    vec![Arc::new(turn::AgentTurns::new(state.clone()))]
}
