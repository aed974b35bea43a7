//! Reservations: credits held for work in progress (an LLM call, a build), then settled or released.
//!
//! ```text
//! let hold = ledger.reserve(&ReserveRequest { user_id, amount: ceiling, .. }).await?;  // 402 when short
//! let result = do_the_work().await;
//! match result {
//!     Ok(cost) => ledger.settle(hold.id, cost).await?,   // charges min(cost, ceiling), releases the rest
//!     Err(_) => ledger.release(hold.id).await?,          // charges nothing
//! }
//! ```
//!
//! A reservation that is neither settled nor released (the process crashed) stops counting at its expiry
//! and is marked released by the sweep ([`Ledger::sweep`]), which `vibe serve` runs at start and
//! periodically.

use std::time::Duration;

use serde::Serialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::entries::{self, check_key_and_reason, fingerprint, reference_parts};
use super::spikes;
use super::{EntryKind, Ledger, LedgerError, LedgerResult, NewEntry, Reference};

/// What to reserve.
#[derive(Clone, Debug)]
pub struct ReserveRequest {
    pub user_id: Uuid,
    /// The most the work may cost; positive.
    pub amount: i64,
    pub reason: String,
    pub reference: Option<Reference>,
    /// Unique per user: reserving again with the same key returns the same reservation.
    pub idempotency_key: String,
    /// How long the hold lives; `None`: `VIBE_CREDITS_RESERVATION_SECS`.
    pub ttl: Option<Duration>,
}

/// Credits held.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Reservation {
    pub id: Uuid,
    pub user_id: Uuid,
    pub amount: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// True when the key had reserved before: this is that reservation.
    pub replayed: bool,
}

/// How a reservation was settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Settled {
    pub reservation_id: Uuid,
    /// Credits charged (a `usage` entry), at most the reserved amount.
    pub charged: i64,
    /// Credits that were held and are free again.
    pub released: i64,
    /// The usage entry; none when nothing was charged.
    pub ledger_id: Option<i64>,
}

/// A reservation row, locked.
#[derive(sqlx::FromRow)]
struct Row {
    user_id: Uuid,
    amount: i64,
    reason: String,
    reference_type: Option<String>,
    reference_id: Option<String>,
    idempotency_key: String,
    status: String,
    charged: Option<i64>,
    ledger_id: Option<i64>,
}

impl Ledger {
    /// Holds `request.amount` credits of the user: refused with [`LedgerError::Insufficient`] when the
    /// available credits (the balance minus other holds) do not cover it, with
    /// [`LedgerError::SpendingPaused`] during a spike pause.
    pub async fn reserve(&self, request: &ReserveRequest) -> LedgerResult<Reservation> {
        check_key_and_reason(&request.idempotency_key, &request.reason)?;
        if request.amount <= 0 {
            return Err(LedgerError::invalid("amount", "must be positive"));
        }
        let ttl = request.ttl.unwrap_or_else(|| self.config.reservation_ttl());
        let (reference_type, reference_id) = reference_parts(request.reference.as_ref());
        let fingerprint = fingerprint(&[
            "reserve",
            &request.amount.to_string(),
            &request.reason,
            reference_type.unwrap_or(""),
            reference_id.unwrap_or(""),
        ]);
        let mut tx = self.db.begin().await?;
        let balance = entries::lock_balance(&mut tx, request.user_id).await?;
        let previous: Option<(Uuid, i64, OffsetDateTime, String)> = sqlx::query_as(
            "SELECT id, amount, expires_at, request_fingerprint FROM credit_reservations \
             WHERE user_id = $1 AND idempotency_key = $2",
        )
        .bind(request.user_id)
        .bind(&request.idempotency_key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id, amount, expires_at, stored)) = previous {
            if stored != fingerprint {
                return Err(LedgerError::KeyReused(request.idempotency_key.clone()));
            }
            return Ok(Reservation { id, user_id: request.user_id, amount, expires_at, replayed: true });
        }
        spikes::refuse_if_paused(&mut tx, request.user_id).await?;
        let available = balance - entries::held(&mut tx, request.user_id).await?;
        if request.amount > available {
            drop(tx);
            let (available, needed) = (available.max(0), request.amount);
            self.announce_insufficient(request.user_id, available, needed).await;
            return Err(LedgerError::Insufficient { available, needed });
        }
        let id = Uuid::now_v7();
        let expires_at: OffsetDateTime = sqlx::query_scalar(
            "INSERT INTO credit_reservations (id, user_id, amount, reason, reference_type, reference_id, owner, \
             idempotency_key, request_fingerprint, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(secs => $10)) RETURNING expires_at",
        )
        .bind(id)
        .bind(request.user_id)
        .bind(request.amount)
        .bind(&request.reason)
        .bind(reference_type)
        .bind(reference_id)
        .bind(&*self.owner)
        .bind(&request.idempotency_key)
        .bind(&fingerprint)
        .bind(ttl.as_secs_f64())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Reservation { id, user_id: request.user_id, amount: request.amount, expires_at, replayed: false })
    }

    /// Charges `actual` credits of the reservation (at most what it holds, and never more than the
    /// balance) as one `usage` entry, under the reservation's idempotency key, and frees the rest. Settling again with the same amount returns the
    /// first result; with another amount it is refused. A released reservation cannot be settled.
    pub async fn settle(&self, reservation_id: Uuid, actual: i64) -> LedgerResult<Settled> {
        if actual < 0 {
            return Err(LedgerError::invalid("amount", "must not be negative"));
        }
        let mut tx = self.db.begin().await?;
        let Some(row) = lock(&mut tx, reservation_id).await? else {
            return Err(LedgerError::UnknownReservation);
        };
        let wanted = actual.min(row.amount);
        match row.status.as_str() {
            "released" => return Err(LedgerError::ReservationReleased),
            "settled" => {
                let charged = row.charged.unwrap_or(0);
                if charged != wanted {
                    return Err(LedgerError::KeyReused(row.idempotency_key));
                }
                let released = row.amount - charged;
                return Ok(Settled { reservation_id, charged, released, ledger_id: row.ledger_id });
            }
            _ => {}
        }
        let balance = entries::lock_balance(&mut tx, row.user_id).await?;
        // Within its lifetime the hold guarantees the balance covers it; past it (not yet swept) others
        // may have spent the credits, and the balance still never goes negative.
        let charged = wanted.min(balance);
        if charged < wanted {
            tracing::warn!(%reservation_id, wanted, charged, "credits: an expired reservation settled short");
        }
        let mut spike = None;
        let ledger_id = if charged > 0 {
            let entry = NewEntry {
                user_id: row.user_id,
                kind: EntryKind::Usage,
                amount: -charged,
                reason: row.reason.clone(),
                reference: reference_of(&row),
                // The work's one key on both tables: `llm_call:<id>`, `build:<id>`.
                idempotency_key: row.idempotency_key.clone(),
            };
            let ledger_id =
                entries::insert(&mut tx, &entry, balance - charged, &entries::fingerprint_of(&entry)).await?;
            spike = spikes::detect(&mut tx, row.user_id, &self.config).await?;
            Some(ledger_id)
        } else {
            None
        };
        sqlx::query(
            "UPDATE credit_reservations SET status = 'settled', charged = $2, ledger_id = $3, ended_at = now() \
             WHERE id = $1",
        )
        .bind(reservation_id)
        .bind(charged)
        .bind(ledger_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(spike) = spike {
            self.announce_spike(row.user_id, &spike).await;
        }
        Ok(Settled { reservation_id, charged, released: row.amount - charged, ledger_id })
    }

    /// Frees a reservation without charging. Returns whether it was held (releasing twice is harmless);
    /// a settled reservation stays settled.
    pub async fn release(&self, reservation_id: Uuid) -> LedgerResult<bool> {
        let released = sqlx::query(
            "UPDATE credit_reservations SET status = 'released', ended_at = now() WHERE id = $1 AND status = 'held'",
        )
        .bind(reservation_id)
        .execute(&self.db)
        .await?
        .rows_affected();
        if released == 0 {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM credit_reservations WHERE id = $1)")
                    .bind(reservation_id)
                    .fetch_one(&self.db)
                    .await?;
            if !exists {
                return Err(LedgerError::UnknownReservation);
            }
        }
        Ok(released > 0)
    }

    /// Marks every expired reservation released (their holders crashed or forgot) and returns how many.
    pub async fn sweep(&self) -> LedgerResult<u64> {
        // An LLM call whose hold expired was cut off with its process (a live call settles or
        // releases its hold itself): its record says so, in the same statement.
        let released: i64 = sqlx::query_scalar(
            "WITH released AS ( \
                 UPDATE credit_reservations SET status = 'released', ended_at = now() \
                 WHERE status = 'held' AND expires_at <= now() RETURNING idempotency_key), \
             abandoned AS ( \
                 UPDATE llm_calls SET outcome = 'failed', finished_at = now(), \
                     error = 'the process making the call stopped before it ended' \
                 WHERE outcome = 'pending' AND 'llm_call:' || id::text IN (SELECT idempotency_key FROM released) \
                 RETURNING 1) \
             SELECT count(*) FROM released",
        )
        .fetch_one(&self.db)
        .await?;
        let released = u64::try_from(released).unwrap_or(0);
        if released > 0 {
            tracing::info!(released, "credits: released expired reservations");
        }
        Ok(released)
    }

    /// The credits `user_id` may spend now: the balance minus live reservations.
    pub async fn available(&self, user_id: Uuid) -> LedgerResult<(i64, i64)> {
        let mut conn = self.db.acquire().await?;
        let balance: i64 = sqlx::query_scalar("SELECT credits_balance FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(LedgerError::UnknownUser)?;
        let held = entries::held(&mut conn, user_id).await?;
        Ok((balance, held))
    }
}

/// Locks a reservation row.
async fn lock(conn: &mut PgConnection, id: Uuid) -> LedgerResult<Option<Row>> {
    Ok(sqlx::query_as(
        "SELECT user_id, amount, reason, reference_type, reference_id, idempotency_key, status, charged, ledger_id \
         FROM credit_reservations WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

fn reference_of(row: &Row) -> Option<Reference> {
    use super::ReferenceKind::*;
    let kind = match row.reference_type.as_deref()? {
        "agent_session" => AgentSession,
        "build" => Build,
        "app" => App,
        "payment" => Payment,
        _ => return None,
    };
    Some(Reference { kind, id: row.reference_id.clone().unwrap_or_default() })
}
