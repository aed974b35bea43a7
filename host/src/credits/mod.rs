//! The credit ledger's writes: every change of `users.credits_balance` is one `credit_ledger` row
//! written in the same transaction, with the user's row locked first so concurrent changes queue
//! up, the balance never goes below zero (the table refuses it too), and an idempotency key per
//! change so that a retried operation is charged once.

use sqlx::PgConnection;
use uuid::Uuid;

/// What a ledger entry is (`credit_ledger.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Grant,
    Purchase,
    Usage,
    Refund,
    Adjustment,
}

impl EntryKind {
    fn as_str(self) -> &'static str {
        match self {
            EntryKind::Grant => "grant",
            EntryKind::Purchase => "purchase",
            EntryKind::Usage => "usage",
            EntryKind::Refund => "refund",
            EntryKind::Adjustment => "adjustment",
        }
    }
}

/// One change of a balance.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    pub user_id: Uuid,
    pub kind: EntryKind,
    /// Positive for credits received, negative for credits spent.
    pub amount: i64,
    pub reason: &'a str,
    /// What the entry is about (for example `agent_session` and the session's id).
    pub reference: Option<(&'a str, String)>,
    /// Unique per user: the same key is applied once.
    pub idempotency_key: &'a str,
}

/// How an entry went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Written; the balance is now `balance_after`.
    Written { ledger_id: i64, balance_after: i64 },
    /// An entry with this idempotency key was written before; nothing changed.
    AlreadyApplied { ledger_id: i64, balance_after: i64 },
}

/// Why an entry was not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreditError {
    /// The user does not exist.
    #[error("no such user")]
    UnknownUser,
    /// Spending more than the balance.
    #[error("the balance is {balance} credits; {needed} are needed")]
    Insufficient { balance: i64, needed: i64 },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Locks `user_id`'s row until the transaction ends and returns the balance.
pub async fn lock_balance(conn: &mut PgConnection, user_id: Uuid) -> Result<i64, CreditError> {
    sqlx::query_scalar("SELECT credits_balance FROM users WHERE id = $1 FOR UPDATE")
        .bind(user_id)
        .fetch_optional(conn)
        .await?
        .ok_or(CreditError::UnknownUser)
}

/// Applies `entry` inside the caller's transaction (`conn`): locks the user's row, refuses
/// spending beyond the balance, writes the ledger row and the new balance. The caller commits.
pub async fn apply(conn: &mut PgConnection, entry: &Entry<'_>) -> Result<Applied, CreditError> {
    let balance = lock_balance(conn, entry.user_id).await?;
    let previous: Option<(i64, i64)> = sqlx::query_as(
        "SELECT id, balance_after FROM credit_ledger WHERE user_id = $1 AND idempotency_key = $2",
    )
    .bind(entry.user_id)
    .bind(entry.idempotency_key)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((ledger_id, balance_after)) = previous {
        return Ok(Applied::AlreadyApplied { ledger_id, balance_after });
    }
    let balance_after = balance + entry.amount;
    if balance_after < 0 {
        return Err(CreditError::Insufficient { balance, needed: -entry.amount });
    }
    let (reference_type, reference_id) = match &entry.reference {
        Some((kind, id)) => (Some(*kind), Some(id.as_str())),
        None => (None, None),
    };
    let ledger_id: i64 = sqlx::query_scalar(
        "INSERT INTO credit_ledger \
             (user_id, kind, amount, balance_after, reason, reference_type, reference_id, idempotency_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(entry.user_id)
    .bind(entry.kind.as_str())
    .bind(entry.amount)
    .bind(balance_after)
    .bind(entry.reason)
    .bind(reference_type)
    .bind(reference_id)
    .bind(entry.idempotency_key)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("UPDATE users SET credits_balance = $2, updated_at = now() WHERE id = $1")
        .bind(entry.user_id)
        .bind(balance_after)
        .execute(&mut *conn)
        .await?;
    Ok(Applied::Written { ledger_id, balance_after })
}
