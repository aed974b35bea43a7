//! The precompiled-artifact cache: each component is compiled once (cranelift) into a file named
//! by the sha256 of its bytes and the engine's compatibility hash, and later loaded from that file
//! (memory-mapped, so the code is shared through the page cache and costs no compilation).
//!
//! Files are written to a temporary name and renamed into place, so a reader never sees a
//! partial artifact; a file that fails to load (another wasmtime, a damaged disk) is recompiled.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{LoadError, RuntimeError};

/// How much work the cache did, since the runtime started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Components compiled with cranelift.
    pub compiled: u64,
    /// Components loaded from an existing artifact file.
    pub loaded_from_disk: u64,
    /// Loads served by a version already in memory (another app, or an earlier load).
    pub shared_in_memory: u64,
}

pub(crate) struct ArtifactCache {
    dir: PathBuf,
    /// The engine's compatibility hash, hex: part of every file name.
    compatibility: String,
    compiled: AtomicU64,
    loaded: AtomicU64,
    pub(crate) shared: AtomicU64,
}

impl ArtifactCache {
    pub(crate) fn open(dir: &Path, engine: &Engine) -> Result<Self, RuntimeError> {
        fs::create_dir_all(dir).map_err(|source| RuntimeError::CacheDir { path: dir.to_owned(), source })?;
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let compatibility = hex::encode(&hasher.0.finalize()[..8]);
        Ok(ArtifactCache {
            dir: dir.to_owned(),
            compatibility,
            compiled: AtomicU64::new(0),
            loaded: AtomicU64::new(0),
            shared: AtomicU64::new(0),
        })
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            compiled: self.compiled.load(Ordering::Relaxed),
            loaded_from_disk: self.loaded.load(Ordering::Relaxed),
            shared_in_memory: self.shared.load(Ordering::Relaxed),
        }
    }

    /// The artifact file of the component whose sha256 is `digest`.
    pub(crate) fn path_for(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.compatibility))
    }

    /// The component from its artifact, if one exists and loads.
    pub(crate) fn load(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path_for(digest);
        if !path.is_file() {
            return None;
        }
        match deserialize(engine, &path) {
            Ok(component) => {
                self.loaded.fetch_add(1, Ordering::Relaxed);
                Some(component)
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "recompiling an unusable artifact");
                None
            }
        }
    }

    /// Compiles `bytes` (whose sha256 is `digest`), writes the artifact and loads it from there.
    pub(crate) fn compile(
        &self,
        engine: &Engine,
        digest: &str,
        bytes: &[u8],
    ) -> Result<Component, LoadError> {
        check_header(bytes)?;
        let artifact = engine
            .precompile_component(bytes)
            .map_err(|error| LoadError::InvalidComponent(format!("{error:#}")))?;
        self.compiled.fetch_add(1, Ordering::Relaxed);
        let path = self.path_for(digest);
        let temporary = self.dir.join(format!(".{digest}-{}.tmp", uuid::Uuid::new_v4()));
        let written = write_synced(&temporary, &artifact).and_then(|()| fs::rename(&temporary, &path));
        if let Err(source) = written {
            let _ = fs::remove_file(&temporary);
            return Err(LoadError::Cache { path, source });
        }
        deserialize(engine, &path).map_err(|error| LoadError::InvalidComponent(format!("{error:#}")))
    }
}

/// Loads an artifact file written by [`ArtifactCache::compile`].
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts the file to be wasmtime's own output, as it maps the
    // machine code in it and runs it. We only ever load files of our cache directory, under names
    // derived from a sha256 digest and the engine's compatibility hash, which we wrote ourselves
    // from `Engine::precompile_component` (via a temporary file renamed into place, so never a
    // partial one). wasmtime additionally checks the header and engine compatibility of the file.
    // The cache directory must not be writable by anyone but this process's user.
    unsafe { Component::deserialize_file(engine, path) }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Refuses what is not a component before compiling, with a reason the owner can act on.
pub(crate) fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_VERSION: &[u8] = &[1, 0, 0, 0];
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::NotWasm);
    }
    if &bytes[4..8] == CORE_VERSION {
        return Err(LoadError::CoreModule);
    }
    Ok(())
}

/// The lowercase hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `digest` as 64 lowercase hex digits (an optional `sha256:` prefix is accepted).
pub(crate) fn normalize_digest(digest: &str) -> Result<String, LoadError> {
    let hex_digits = digest.strip_prefix("sha256:").unwrap_or(digest).to_ascii_lowercase();
    if hex_digits.len() == 64 && hex_digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex_digits)
    } else {
        Err(LoadError::DigestMismatch { expected: digest.to_owned(), actual: String::new() })
    }
}

/// Feeds `Hash` output into sha256, for a hash that is stable across runs and Rust versions.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ])
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_told_apart() {
        assert!(matches!(check_header(b"hello world"), Err(LoadError::NotWasm)));
        assert!(matches!(check_header(b"\0asm\x01\0\0\0"), Err(LoadError::CoreModule)));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn digests_are_normalized_or_refused() {
        let digest = sha256_hex(b"x");
        assert_eq!(normalize_digest(&format!("sha256:{}", digest.to_uppercase())).unwrap(), digest);
        assert!(normalize_digest("sha256:abc").is_err());
    }
}
