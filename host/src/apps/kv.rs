//! `vibe:app/kv` for served apps: each app's keys in PostgreSQL, so that they survive restarts and
//! every `vibe serve` process of a cluster sees the same store.
//!
//! The keys live in the platform table `app_kv`, keyed by app id, read and written by the host
//! over its own pool; the migration (`20261129000040_app_kv.sql`) says why not in the app's own
//! schema. What keeps apps apart is that a [`PgKv`] is built per app with the app's id, from the
//! app's capabilities, and binds that id in every statement: nothing the guest passes chooses it.
//!
//! Sizes are checked before the database is touched ([`KvLimits`]); the quota (key plus value
//! bytes per app) is kept in `app_kv_usage`, whose row is locked by each write, so concurrent
//! writers, in this process or another, never take an app past it. Database failures reach the
//! app as `unavailable`, without the database's words (they are logged here).

use async_trait::async_trait;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;
use vibe_apps_runtime::{AppKv, KvError, KvLimits};

/// One app's key-value store in PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgKv {
    db: PgPool,
    app_id: Uuid,
    limits: KvLimits,
}

impl PgKv {
    /// The store of app `app_id`, bounded by `limits`.
    pub fn new(db: PgPool, app_id: Uuid, limits: KvLimits) -> Self {
        PgKv { db, app_id, limits }
    }

    /// Bytes (keys plus values) and keys the app stores now.
    pub async fn usage(&self) -> Result<(i64, i64), KvError> {
        let usage: Option<(i64, i64)> =
            sqlx::query_as("SELECT bytes, keys FROM app_kv_usage WHERE app_id = $1")
                .bind(self.app_id)
                .fetch_optional(&self.db)
                .await
                .map_err(|error| self.unavailable("reading the usage", &error))?;
        Ok(usage.unwrap_or((0, 0)))
    }

    /// Logs `error` and gives the app a reason without the database's details.
    fn unavailable(&self, what: &str, error: &sqlx::Error) -> KvError {
        if let sqlx::Error::Database(db) = error
            && db.is_foreign_key_violation()
        {
            return KvError::Unavailable("the app no longer exists".to_owned());
        }
        tracing::warn!(app_id = %self.app_id, %error, "key-value store: {what}");
        KvError::Unavailable("the key-value store cannot be reached right now".to_owned())
    }

    /// Stores the entry in `tx`, holding the app's usage row; `Ok(false)` when over the quota.
    async fn set_in(&self, tx: &mut PgConnection, key: &[u8], value: &[u8]) -> Result<bool, sqlx::Error> {
        // Creates the usage row if needed and locks it (the update of an existing row takes its
        // lock and reads its latest committed version), so writes of one app take turns.
        let (bytes,): (i64,) = sqlx::query_as(
            "INSERT INTO app_kv_usage AS u (app_id) VALUES ($1) \
             ON CONFLICT (app_id) DO UPDATE SET bytes = u.bytes RETURNING u.bytes",
        )
        .bind(self.app_id)
        .fetch_one(&mut *tx)
        .await?;
        let old: Option<i64> = sqlx::query_scalar(
            "SELECT octet_length(key)::bigint + octet_length(value) FROM app_kv WHERE app_id = $1 AND key = $2",
        )
        .bind(self.app_id)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let new = i64::try_from(key.len() + value.len()).unwrap_or(i64::MAX);
        let total = bytes.saturating_sub(old.unwrap_or(0)).saturating_add(new);
        if total > i64::try_from(self.limits.max_total_bytes).unwrap_or(i64::MAX) {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO app_kv (app_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (app_id, key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(self.app_id)
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE app_kv_usage SET bytes = $2, keys = keys + $3 WHERE app_id = $1")
            .bind(self.app_id)
            .bind(total)
            .bind(i64::from(old.is_none()))
            .execute(&mut *tx)
            .await?;
        Ok(true)
    }

    /// Removes the entry in `tx` and gives its bytes back to the quota.
    async fn delete_in(&self, tx: &mut PgConnection, key: &[u8]) -> Result<(), sqlx::Error> {
        // Locks the usage row first, in the same order as a write, so the two never deadlock.
        let locked: Option<i64> =
            sqlx::query_scalar("SELECT bytes FROM app_kv_usage WHERE app_id = $1 FOR UPDATE")
                .bind(self.app_id)
                .fetch_optional(&mut *tx)
                .await?;
        if locked.is_none() {
            return Ok(());
        }
        let freed: Option<i64> = sqlx::query_scalar(
            "DELETE FROM app_kv WHERE app_id = $1 AND key = $2 \
             RETURNING octet_length(key)::bigint + octet_length(value)",
        )
        .bind(self.app_id)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(freed) = freed {
            sqlx::query(
                "UPDATE app_kv_usage SET bytes = greatest(bytes - $2, 0), keys = greatest(keys - 1, 0) \
                 WHERE app_id = $1",
            )
            .bind(self.app_id)
            .bind(freed)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl AppKv for PgKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        if key.len() > self.limits.max_key_bytes {
            return Ok(None);
        }
        sqlx::query_scalar("SELECT value FROM app_kv WHERE app_id = $1 AND key = $2")
            .bind(self.app_id)
            .bind(key.as_bytes())
            .fetch_optional(&self.db)
            .await
            .map_err(|error| self.unavailable("reading a key", &error))
    }

    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        self.limits.check_sizes(key, &value)?;
        let stored = async {
            let mut tx = self.db.begin().await?;
            let stored = self.set_in(&mut tx, key.as_bytes(), &value).await?;
            if stored {
                tx.commit().await?;
            }
            Ok::<_, sqlx::Error>(stored)
        }
        .await
        .map_err(|error| self.unavailable("writing a key", &error))?;
        if stored { Ok(()) } else { Err(self.limits.quota_exceeded()) }
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        if key.len() > self.limits.max_key_bytes {
            return Ok(());
        }
        async {
            let mut tx = self.db.begin().await?;
            self.delete_in(&mut tx, key.as_bytes()).await?;
            tx.commit().await
        }
        .await
        .map_err(|error| self.unavailable("deleting a key", &error))
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        let keys: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT key FROM app_kv WHERE app_id = $1 AND key >= $2 AND ($3::bytea IS NULL OR key < $3) \
             ORDER BY key",
        )
        .bind(self.app_id)
        .bind(prefix.as_bytes())
        .bind(prefix_end(prefix.as_bytes()))
        .fetch_all(&self.db)
        .await
        .map_err(|error| self.unavailable("listing keys", &error))?;
        // Keys were stored from the app's strings, so they are UTF-8.
        Ok(keys.into_iter().map(|key| String::from_utf8_lossy(&key).into_owned()).collect())
    }
}

/// The first byte string after every string starting with `prefix` (`None`: no such bound, as for
/// the empty prefix).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefixes_end_where_their_keys_do() {
        assert_eq!(prefix_end(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_end(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b""), None);
        assert_eq!(prefix_end(b"\xff"), None);
    }
}
