//! The credit ledger: the one place that changes a balance.
//!
//! Every change is an immutable `credit_ledger` row written in the same transaction as
//! `users.credits_balance`, after locking the user's row, so concurrent writers queue up and the balance
//! never goes below zero (the table refuses it too). Every write carries an idempotency key: a retry with
//! the same key and the same request returns the first result; the same key with another request is
//! refused ([`LedgerError::KeyReused`]).
//!
//! Work whose price is known only afterwards (an LLM call, a build) reserves credits first
//! ([`Ledger::reserve`]): held credits reduce what is *available* but not the balance. Afterwards the
//! worker settles (charges the actual cost, at most what it reserved) or releases. A reservation expires,
//! so a worker that crashed never holds credits for long: [`Ledger::sweep`] releases expired ones at
//! `vibe serve` start and periodically.
//!
//! Spending (usage entries and reservations) is refused while the user's spending is paused after a
//! consumption spike ([`spikes`]). Running out publishes a `notification` to the user.
//!
//! Other parts call [`Ledger`] (from `AppState::ledger`): [`metering`] has the price table and the charges
//! for agent calls (the agent dispatcher), builds and app requests ([`app_meter`], fed by the apps'
//! analytics batches); [`Ledger::reserve`] / [`Ledger::settle`] / [`Ledger::release`] serve the LLM
//! gateway (`crate::llm::billing`) and the build pipeline ([`Ledger::reserve_build`]). A usage entry
//! about an agent session also counts on `agent_sessions.credits_consumed`, in the same transaction.

pub mod app_meter;
pub mod cli;
pub mod config;
mod entries;
pub mod grace;
pub mod metering;
mod notify;
pub mod reservations;
pub mod spikes;
pub mod stripe;
pub mod summary;
pub mod webhook;

use std::sync::Arc;

use serde::Serialize;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

pub use config::CreditsConfig;
pub use entries::lock_balance;
pub use reservations::{Reservation, ReserveRequest, Settled};

use crate::error::ApiError;
use crate::events::EventBus;

/// What a ledger entry is (`credit_ledger.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Credits given by the platform (signup, an operator).
    Grant,
    /// Credits bought.
    Purchase,
    /// Credits spent on work.
    Usage,
    /// Credits given back for work that failed on our side.
    Refund,
    /// A correction by an operator, either way.
    Adjustment,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Grant => "grant",
            EntryKind::Purchase => "purchase",
            EntryKind::Usage => "usage",
            EntryKind::Refund => "refund",
            EntryKind::Adjustment => "adjustment",
        }
    }
}

/// What an entry or a reservation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    AgentSession,
    Build,
    App,
    Payment,
}

impl ReferenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReferenceKind::AgentSession => "agent_session",
            ReferenceKind::Build => "build",
            ReferenceKind::App => "app",
            ReferenceKind::Payment => "payment",
        }
    }
}

/// A reference: its kind and the id of the thing (a UUID, a Stripe session id, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub kind: ReferenceKind,
    pub id: String,
}

impl Reference {
    pub fn new(kind: ReferenceKind, id: impl ToString) -> Self {
        Reference { kind, id: id.to_string() }
    }
}

/// One change of a balance to write.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub user_id: Uuid,
    pub kind: EntryKind,
    /// Positive for credits received, negative for credits spent; never zero.
    pub amount: i64,
    pub reason: String,
    pub reference: Option<Reference>,
    /// Unique per user: the same key is applied once.
    pub idempotency_key: String,
}

/// A written entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Posted {
    pub ledger_id: i64,
    pub amount: i64,
    pub balance_after: i64,
    /// True when the key had been applied before: this is the first write's result, nothing changed now.
    pub replayed: bool,
}

/// Why the ledger refused a write.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The user does not exist.
    #[error("no such user")]
    UnknownUser,
    /// The available credits (the balance minus reservations) do not cover the spend.
    #[error("{available} credits are available and {needed} are needed; buy credits to continue")]
    Insufficient { available: i64, needed: i64 },
    /// The user's spending is paused after a consumption spike.
    #[error(
        "spending is paused until {until} after an unusual spike in consumption; an operator can lift it sooner"
    )]
    SpendingPaused { until: String },
    /// The idempotency key was used before for a different request.
    #[error("the idempotency key {0:?} was already used for a different request")]
    KeyReused(String),
    /// No such reservation (for this user).
    #[error("no such reservation")]
    UnknownReservation,
    /// The reservation was released (or expired and swept) before it was settled.
    #[error("the reservation was released before it was settled")]
    ReservationReleased,
    /// The request makes no sense (a zero amount, an empty key, …).
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl LedgerError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        LedgerError::Invalid { field, message: message.into() }
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::UnknownUser | LedgerError::UnknownReservation => ApiError::NotFound,
            error @ LedgerError::Insufficient { .. } => ApiError::PaymentRequired(error.to_string()),
            error @ LedgerError::SpendingPaused { .. } => ApiError::SpendingPaused(error.to_string()),
            error @ (LedgerError::KeyReused(_) | LedgerError::ReservationReleased) => {
                ApiError::Conflict(error.to_string())
            }
            LedgerError::Invalid { field, message } => ApiError::validation(field, message),
            LedgerError::Database(error) => ApiError::from(error),
        }
    }
}

/// Shorthand for ledger results.
pub type LedgerResult<T> = Result<T, LedgerError>;

/// The ledger: cheap to clone, one per process (in `AppState`).
#[derive(Clone)]
pub struct Ledger {
    db: PgPool,
    events: EventBus,
    config: Arc<CreditsConfig>,
    /// Names the process on the reservations it makes.
    owner: Arc<str>,
    /// Talks to Stripe.
    http: reqwest::Client,
    /// When this process last told each user they ran out (with the events table, which covers other
    /// processes, this keeps a burst of refusals to one notification).
    told_insufficient: Arc<std::sync::Mutex<std::collections::HashMap<Uuid, std::time::Instant>>>,
}

impl Ledger {
    /// A ledger over `db`, publishing notifications on `events`.
    pub fn new(db: PgPool, events: EventBus, config: CreditsConfig) -> anyhow::Result<Self> {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned());
        let owner = format!("{host}:{}:{}", std::process::id(), Uuid::now_v7());
        let http = reqwest::Client::builder().build()?;
        Ok(Ledger {
            db,
            events,
            config: Arc::new(config),
            owner: owner.into(),
            http,
            told_insufficient: Arc::default(),
        })
    }

    /// The settings it runs with.
    pub fn config(&self) -> &CreditsConfig {
        &self.config
    }

    /// The database it writes to.
    pub fn db(&self) -> &PgPool {
        &self.db
    }

    /// Writes `entry` (or returns the first result of its idempotency key) in its own transaction.
    /// Spending (`usage` with a negative amount) must fit the available credits and is refused while
    /// the user's spending is paused; running out notifies the user.
    pub async fn post(&self, entry: &NewEntry) -> LedgerResult<Posted> {
        let mut tx = self.db.begin().await?;
        match entries::post_in(&mut tx, entry, &self.config).await {
            Ok((posted, spike)) => {
                tx.commit().await?;
                if let Some(spike) = spike {
                    self.announce_spike(entry.user_id, &spike).await;
                }
                Ok(posted)
            }
            Err(error) => {
                // Roll back (and so unlock the user's row) before telling anyone: the notification needs
                // a connection of its own, and the writers queued behind the lock hold the others.
                drop(tx);
                if let LedgerError::Insufficient { available, needed } = &error {
                    self.announce_insufficient(entry.user_id, *available, *needed).await;
                }
                Err(error)
            }
        }
    }

    /// Starts the background sweep: expired reservations released and app grace periods enforced now,
    /// then every `VIBE_CREDITS_SWEEP_SECS`. Stops when the pool closes.
    pub fn start_sweeper(&self, apps: Option<crate::apps::AppsService>) {
        let ledger = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(ledger.config.sweep_period());
            loop {
                tick.tick().await;
                if ledger.db.is_closed() {
                    return;
                }
                if let Err(error) = ledger.sweep().await {
                    tracing::warn!(error = %error, "credits: releasing expired reservations failed");
                }
                if let Some(apps) = &apps
                    && let Err(error) = grace::pause_overdue(&ledger, apps).await
                {
                    tracing::warn!(error = %error, "credits: pausing apps past their grace period failed");
                }
            }
        });
    }
}

/// The current time as RFC 3339, for messages.
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}
