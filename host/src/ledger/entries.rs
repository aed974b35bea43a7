//! Writing one entry: lock the user's row, answer a replayed key with its first result, check the
//! available credits and the spending pause, write the row and the new balance.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use super::spikes::{self, Spike};
use super::{
    CreditsConfig, EntryKind, LedgerError, LedgerResult, NewEntry, Posted, Reference, ReferenceKind,
};

/// Longest idempotency key accepted.
pub const MAX_KEY_LEN: usize = 200;
/// Longest reason accepted.
pub const MAX_REASON_LEN: usize = 500;

/// Locks `user_id`'s row until the transaction ends and returns the balance. Every balance change takes
/// this lock first, so changes of one user queue up while other users' go on.
pub async fn lock_balance(conn: &mut PgConnection, user_id: Uuid) -> LedgerResult<i64> {
    sqlx::query_scalar("SELECT credits_balance FROM users WHERE id = $1 FOR UPDATE")
        .bind(user_id)
        .fetch_optional(conn)
        .await?
        .ok_or(LedgerError::UnknownUser)
}

/// Credits held by live reservations of `user_id` (expired ones no longer count, swept or not).
pub async fn held(conn: &mut PgConnection, user_id: Uuid) -> LedgerResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(SUM(amount), 0)::bigint FROM credit_reservations \
         WHERE user_id = $1 AND status = 'held' AND expires_at > now()",
    )
    .bind(user_id)
    .fetch_one(conn)
    .await?)
}

/// A digest of what a write asks for, to tell a retry from another request reusing its key.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        // Length-prefixed, so ("ab","c") and ("a","bc") differ.
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The fingerprint of an entry.
fn entry_fingerprint(entry: &NewEntry) -> String {
    let (kind, id) = reference_parts(entry.reference.as_ref());
    fingerprint(&[
        entry.kind.as_str(),
        &entry.amount.to_string(),
        &entry.reason,
        kind.unwrap_or(""),
        id.unwrap_or(""),
    ])
}

pub(super) fn reference_parts(reference: Option<&Reference>) -> (Option<&'static str>, Option<&str>) {
    match reference {
        Some(reference) => (Some(reference.kind.as_str()), Some(reference.id.as_str())),
        None => (None, None),
    }
}

/// Checks the shape of a key and a reason.
pub(super) fn check_key_and_reason(key: &str, reason: &str) -> LedgerResult<()> {
    if key.trim().is_empty() || key.len() > MAX_KEY_LEN {
        return Err(LedgerError::invalid("idempotency_key", format!("must be 1 to {MAX_KEY_LEN} bytes")));
    }
    if reason.len() > MAX_REASON_LEN {
        return Err(LedgerError::invalid("reason", format!("must be at most {MAX_REASON_LEN} bytes")));
    }
    Ok(())
}

/// Writes `entry` inside the caller's transaction; the caller commits. Returns the posted entry and, when
/// this spend tipped the user over the spike rule, the pause it started (to announce after commit).
pub async fn post_in(
    conn: &mut PgConnection,
    entry: &NewEntry,
    config: &CreditsConfig,
) -> LedgerResult<(Posted, Option<Spike>)> {
    check_key_and_reason(&entry.idempotency_key, &entry.reason)?;
    if entry.amount == 0 {
        return Err(LedgerError::invalid("amount", "must not be zero"));
    }
    let spending = entry.amount < 0;
    if spending && entry.kind != EntryKind::Usage && entry.kind != EntryKind::Adjustment {
        return Err(LedgerError::invalid("amount", "only usage and adjustments take credits away"));
    }
    let balance = lock_balance(conn, entry.user_id).await?;
    let fingerprint = entry_fingerprint(entry);
    if let Some(posted) = replay(conn, entry.user_id, &entry.idempotency_key, &fingerprint).await? {
        return Ok((posted, None));
    }
    if spending {
        if entry.kind == EntryKind::Usage {
            spikes::refuse_if_paused(conn, entry.user_id).await?;
        }
        let available = balance - held(conn, entry.user_id).await?;
        if -entry.amount > available {
            return Err(LedgerError::Insufficient { available: available.max(0), needed: -entry.amount });
        }
    }
    let balance_after = balance
        .checked_add(entry.amount)
        .ok_or_else(|| LedgerError::invalid("amount", "the balance would overflow"))?;
    let ledger_id = insert(conn, entry, balance_after, &fingerprint).await?;
    let spike = if entry.kind == EntryKind::Usage {
        spikes::detect(conn, entry.user_id, config).await?
    } else {
        None
    };
    Ok((Posted { ledger_id, amount: entry.amount, balance_after, replayed: false }, spike))
}

/// The first result of `key`, if it was applied with the same request; [`LedgerError::KeyReused`] if it
/// was applied with another.
async fn replay(
    conn: &mut PgConnection,
    user_id: Uuid,
    key: &str,
    fingerprint: &str,
) -> LedgerResult<Option<Posted>> {
    let previous: Option<(i64, i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT id, amount, balance_after, request_fingerprint FROM credit_ledger \
         WHERE user_id = $1 AND idempotency_key = $2",
    )
    .bind(user_id)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    match previous {
        None => Ok(None),
        Some((ledger_id, amount, balance_after, Some(stored))) if stored == fingerprint => {
            Ok(Some(Posted { ledger_id, amount, balance_after, replayed: true }))
        }
        Some(_) => Err(LedgerError::KeyReused(key.to_owned())),
    }
}

/// Writes the row and the balance (the row lock is held).
pub(super) async fn insert(
    conn: &mut PgConnection,
    entry: &NewEntry,
    balance_after: i64,
    fingerprint: &str,
) -> LedgerResult<i64> {
    let (reference_type, reference_id) = reference_parts(entry.reference.as_ref());
    let ledger_id: i64 = sqlx::query_scalar(
        "INSERT INTO credit_ledger (user_id, kind, amount, balance_after, reason, reference_type, reference_id, \
         idempotency_key, request_fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(entry.user_id)
    .bind(entry.kind.as_str())
    .bind(entry.amount)
    .bind(balance_after)
    .bind(&entry.reason)
    .bind(reference_type)
    .bind(reference_id)
    .bind(&entry.idempotency_key)
    .bind(fingerprint)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("UPDATE users SET credits_balance = $2, updated_at = now() WHERE id = $1")
        .bind(entry.user_id)
        .bind(balance_after)
        .execute(&mut *conn)
        .await?;
    count_on_session(conn, entry).await?;
    Ok(ledger_id)
}

/// Adds a usage entry about an agent session to `agent_sessions.credits_consumed`, in the entry's
/// transaction, so the session's total (shown with the session and in its track record) is always the
/// sum of its usage entries, whoever charged them (the LLM gateway, the agent-call meter).
async fn count_on_session(conn: &mut PgConnection, entry: &NewEntry) -> LedgerResult<()> {
    let Some(reference) = &entry.reference else { return Ok(()) };
    if entry.kind != EntryKind::Usage || reference.kind != ReferenceKind::AgentSession {
        return Ok(());
    }
    // Sessions are UUIDs; a reference that is not one names no row to count on.
    let Ok(session_id) = reference.id.parse::<Uuid>() else { return Ok(()) };
    sqlx::query("UPDATE agent_sessions SET credits_consumed = credits_consumed - $2 WHERE id = $1")
        .bind(session_id)
        .bind(entry.amount)
        .execute(conn)
        .await?;
    Ok(())
}

/// The fingerprint an entry written by [`insert`] gets (for callers that build the entry themselves).
pub(super) fn fingerprint_of(entry: &NewEntry) -> String {
    entry_fingerprint(entry)
}
