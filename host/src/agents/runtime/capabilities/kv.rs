//! `vibe:agent/kv`: a key-value store private to the plugin (by name, so it survives a new
//! version) and the idea, in the `agent_kv` table. Needs the `kv` capability.

use super::{CallShared, CapError};
use crate::agents::runtime::bindings::{kv as wit, wit::Error as WitError};
use crate::agents::runtime::state::CallState;
use crate::agents::runtime::types::Capability;

/// The longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// The largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// The most keys one plugin may keep for one idea.
pub const MAX_KEYS: i64 = 10_000;

fn check_key(key: &str) -> Result<(), CapError> {
    if key.is_empty() {
        return Err(CapError::Invalid("the key is empty".to_owned()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(CapError::TooLarge(format!("keys are at most {MAX_KEY_BYTES} bytes")));
    }
    Ok(())
}

impl CallShared {
    /// The value under `key`.
    pub(crate) async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, CapError> {
        self.require(Capability::Kv)?;
        check_key(key)?;
        sqlx::query_scalar("SELECT value FROM agent_kv WHERE plugin_name = $1 AND idea_id = $2 AND key = $3")
            .bind(&self.plugin_name)
            .bind(self.idea_id)
            .bind(key)
            .fetch_optional(&self.services()?.db)
            .await
            .map_err(|error| CapError::database("kv", &error))
    }

    /// Stores `value` under `key`.
    pub(crate) async fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), CapError> {
        self.require(Capability::Kv)?;
        check_key(key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(CapError::TooLarge(format!("values are at most {MAX_VALUE_BYTES} bytes")));
        }
        // A new key is stored only while the plugin has fewer than MAX_KEYS for the idea; a
        // replaced one always.
        let stored = sqlx::query(
            "INSERT INTO agent_kv (plugin_name, idea_id, key, value) \
             SELECT $1, $2, $3, $4 \
             WHERE EXISTS (SELECT 1 FROM agent_kv WHERE plugin_name = $1 AND idea_id = $2 AND key = $3) \
                OR (SELECT count(*) FROM agent_kv WHERE plugin_name = $1 AND idea_id = $2) < $5 \
             ON CONFLICT (plugin_name, idea_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        )
        .bind(&self.plugin_name)
        .bind(self.idea_id)
        .bind(key)
        .bind(value)
        .bind(MAX_KEYS)
        .execute(&self.services()?.db)
        .await;
        match stored {
            Ok(done) if done.rows_affected() == 0 => {
                Err(CapError::QuotaExceeded(format!("at most {MAX_KEYS} keys per idea")))
            }
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(error)) if error.is_foreign_key_violation() => {
                Err(CapError::Invalid("the idea no longer exists".to_owned()))
            }
            Err(error) => Err(CapError::database("kv", &error)),
        }
    }

    /// Removes `key`.
    pub(crate) async fn kv_delete(&self, key: &str) -> Result<(), CapError> {
        self.require(Capability::Kv)?;
        check_key(key)?;
        sqlx::query("DELETE FROM agent_kv WHERE plugin_name = $1 AND idea_id = $2 AND key = $3")
            .bind(&self.plugin_name)
            .bind(self.idea_id)
            .bind(key)
            .execute(&self.services()?.db)
            .await
            .map(drop)
            .map_err(|error| CapError::database("kv", &error))
    }

    /// The keys starting with `prefix`, ascending.
    pub(crate) async fn kv_list_keys(&self, prefix: &str) -> Result<Vec<String>, CapError> {
        self.require(Capability::Kv)?;
        if prefix.len() > MAX_KEY_BYTES {
            return Err(CapError::TooLarge(format!("keys are at most {MAX_KEY_BYTES} bytes")));
        }
        // starts_with compares bytes, so `%` and `_` in the prefix are not patterns.
        sqlx::query_scalar(
            "SELECT key FROM agent_kv WHERE plugin_name = $1 AND idea_id = $2 AND starts_with(key, $3) \
             ORDER BY key COLLATE \"C\"",
        )
        .bind(&self.plugin_name)
        .bind(self.idea_id)
        .bind(prefix)
        .fetch_all(&self.services()?.db)
        .await
        .map_err(|error| CapError::database("kv", &error))
    }
}

impl wit::Host for CallState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, WitError>> {
        Ok(self.call.kv_get(&key).await.map_err(Into::into))
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), WitError>> {
        Ok(self.call.kv_set(&key, &value).await.map_err(Into::into))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), WitError>> {
        Ok(self.call.kv_delete(&key).await.map_err(Into::into))
    }

    async fn list_keys(&mut self, prefix: String) -> wasmtime::Result<Result<Vec<String>, WitError>> {
        Ok(self.call.kv_list_keys(&prefix).await.map_err(Into::into))
    }
}
