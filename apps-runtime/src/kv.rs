//! `vibe:app/kv`: the app's private key-value store. The embedder provides one [`AppKv`] per app
//! (that is what keeps apps apart), bounded by [`KvLimits`]; [`MemoryKv`] is the in-process backend
//! used by tests and the benches (the host keeps keys in PostgreSQL, `host/src/apps/kv.rs`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::bindings::kv::{Error as KvError, Host};
use crate::state::RequestState;

/// One app's key-value store. Every method's error is returned to the app as is.
#[async_trait]
pub trait AppKv: Send + Sync {
    /// The value under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Stores `value` under `key`.
    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), KvError>;
    /// Removes `key` (a missing key is fine).
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    /// The keys starting with `prefix`, ascending.
    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, KvError>;
}

/// Sizes a key-value store accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvLimits {
    /// The longest key, in bytes.
    pub max_key_bytes: usize,
    /// The largest value, in bytes.
    pub max_value_bytes: usize,
    /// The most bytes (keys plus values) the store holds.
    pub max_total_bytes: usize,
}

impl Default for KvLimits {
    fn default() -> Self {
        KvLimits { max_key_bytes: 1024, max_value_bytes: 1 << 20, max_total_bytes: 16 << 20 }
    }
}

impl KvLimits {
    /// Refuses a key or a value over its size limit, saying which and the limit.
    pub fn check_sizes(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        if key.len() > self.max_key_bytes {
            return Err(KvError::TooLarge(format!("keys are at most {} bytes", self.max_key_bytes)));
        }
        if value.len() > self.max_value_bytes {
            return Err(KvError::TooLarge(format!("values are at most {} bytes", self.max_value_bytes)));
        }
        Ok(())
    }

    /// The refusal of a write that would take the store past its quota.
    pub fn quota_exceeded(&self) -> KvError {
        KvError::QuotaExceeded(format!(
            "the store holds at most {} bytes of keys and values",
            self.max_total_bytes
        ))
    }
}

/// An in-memory key-value store for one app, bounded by [`KvLimits`]. Its contents live as
/// long as the value does (the host keeps one per app; a restart empties it).
#[derive(Debug, Default)]
pub struct MemoryKv {
    limits: KvLimits,
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryKv {
    /// An empty store with the given limits.
    pub fn new(limits: KvLimits) -> Self {
        MemoryKv { limits, entries: Mutex::new(BTreeMap::new()) }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A panic while holding the lock cannot leave the map half-updated (every update is one
        // insert or remove), so a poisoned lock is still safe to use.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl AppKv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.entries().get(key).cloned())
    }

    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        self.limits.check_sizes(key, &value)?;
        let mut entries = self.entries();
        let used: usize = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
        let replaced = entries.get(key).map_or(0, |old| key.len() + old.len());
        if used - replaced + key.len() + value.len() > self.limits.max_total_bytes {
            return Err(self.limits.quota_exceeded());
        }
        entries.insert(key.to_owned(), value);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.entries().remove(key);
        Ok(())
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        let entries = self.entries();
        Ok(entries
            .range(prefix.to_owned()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

impl Host for RequestState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, KvError>> {
        Ok(self.app.capabilities.kv.get(&key).await)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), KvError>> {
        Ok(self.app.capabilities.kv.set(&key, value).await)
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), KvError>> {
        Ok(self.app.capabilities.kv.delete(&key).await)
    }

    async fn list_keys(&mut self, prefix: String) -> wasmtime::Result<Result<Vec<String>, KvError>> {
        Ok(self.app.capabilities.kv.list_keys(&prefix).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_and_prefix_listing() {
        let kv = MemoryKv::new(KvLimits { max_key_bytes: 8, max_value_bytes: 4, max_total_bytes: 13 });
        kv.set("a/1", b"x".to_vec()).await.unwrap();
        kv.set("a/2", b"y".to_vec()).await.unwrap();
        kv.set("b/1", b"z".to_vec()).await.unwrap();
        assert_eq!(kv.list_keys("a/").await.unwrap(), ["a/1", "a/2"]);
        assert!(matches!(kv.set("a/3", b"12345".to_vec()).await, Err(KvError::TooLarge(_))));
        assert!(matches!(kv.set("long-key-here", b"1".to_vec()).await, Err(KvError::TooLarge(_))));
        assert!(matches!(kv.set("c/1", b"1234".to_vec()).await, Err(KvError::QuotaExceeded(_))));
        // Replacing a value counts only the difference.
        kv.set("a/1", b"xy".to_vec()).await.unwrap();
        kv.delete("a/1").await.unwrap();
        assert_eq!(kv.get("a/1").await.unwrap(), None);
        assert_eq!(kv.get("b/1").await.unwrap(), Some(b"z".to_vec()));
    }
}
