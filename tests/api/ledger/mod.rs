//! The credit ledger against real PostgreSQL: concurrent spending, idempotency, reservations and a real
//! process killed while holding one, metering (agent calls, builds, app hosting through its grace period)
//! and usage summaries, spike pauses, Stripe purchases (a local server speaking Stripe's wire format) and
//! the webhook, the operator CLI and the operators' account lookup and grants.

mod concurrency;
mod crash;
mod hosting;
mod metering;
mod operators;
mod purchases;
mod reservations;

use sqlx::PgPool;
use uuid::Uuid;

/// Sets `user`'s balance to `balance` through a ledger adjustment-free path the tests own: a grant row
/// and the balance in one transaction, like the ledger writes them.
pub async fn set_balance(db: &PgPool, user: Uuid, balance: i64) {
    let mut tx = db.begin().await.unwrap();
    sqlx::query("UPDATE users SET credits_balance = $2 WHERE id = $1")
        .bind(user)
        .bind(balance)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO credit_ledger (user_id, kind, amount, balance_after, reason) VALUES ($1, 'adjustment', 0, $2, 'test setup')",
    )
    .bind(user)
    .bind(balance)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// The balance as stored, and the sum of the user's ledger amounts (they must agree, apart from the
/// test-setup rows that set the balance directly).
pub async fn balance(db: &PgPool, user: Uuid) -> i64 {
    sqlx::query_scalar("SELECT credits_balance FROM users WHERE id = $1")
        .bind(user)
        .fetch_one(db)
        .await
        .unwrap()
}
