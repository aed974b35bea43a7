//! Precompiled agent components, cached on disk by digest: a plugin is compiled once (cranelift)
//! into `<digest>-<engine hash>.cwasm` and later loaded from that file (memory-mapped, no
//! compilation), by this process after a restart or by any other on the same data directory.
//! Files are written under a temporary name and renamed into place, so a reader never sees a
//! partial artifact; a file that fails to load is recompiled. The same scheme as the apps
//! runtime's cache (apps-runtime/src/cache.rs), for the agents' own engine.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::errors::AgentLoadError;

pub(crate) struct ComponentCache {
    dir: PathBuf,
    /// A short hash of the engine's compatibility hash: part of every file name, so an artifact
    /// of another wasmtime or configuration is never even tried.
    engine_tag: String,
}

impl ComponentCache {
    pub(crate) fn open(dir: &Path, engine: &Engine) -> anyhow::Result<Self> {
        fs::create_dir_all(dir).map_err(|error| {
            anyhow::anyhow!("cannot create the agents' artifact directory {}: {error}", dir.display())
        })?;
        let mut hasher = StableHasher(Sha256::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
        let engine_tag = hex::encode(&hasher.0.finalize()[..8]);
        Ok(ComponentCache { dir: dir.to_owned(), engine_tag })
    }

    fn path_for(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_tag))
    }

    /// The component whose sha256 is `digest`: from its artifact when one loads, else compiled
    /// from `bytes` and cached.
    pub(crate) fn get_or_compile(
        &self,
        engine: &Engine,
        digest: &str,
        bytes: &[u8],
    ) -> Result<Component, AgentLoadError> {
        let path = self.path_for(digest);
        if path.is_file() {
            match deserialize(engine, &path) {
                Ok(component) => return Ok(component),
                Err(error) => {
                    tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "recompiling an unusable agent artifact");
                }
            }
        }
        let artifact = engine
            .precompile_component(bytes)
            .map_err(|error| AgentLoadError::Invalid(format!("{error:#}")))?;
        let temporary = self.dir.join(format!(".{digest}-{}.tmp", uuid::Uuid::new_v4()));
        let written = write_synced(&temporary, &artifact).and_then(|()| fs::rename(&temporary, &path));
        if let Err(source) = written {
            let _ = fs::remove_file(&temporary);
            return Err(AgentLoadError::Cache { path, source });
        }
        deserialize(engine, &path).map_err(|error| AgentLoadError::Invalid(format!("{error:#}")))
    }
}

/// Loads an artifact file written by [`ComponentCache::get_or_compile`].
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts the file to be wasmtime's own output, as it maps the
    // machine code in it and runs it. We only load files of our own cache directory, under names
    // made of a sha256 digest and the engine's compatibility hash, which this module wrote from
    // `Engine::precompile_component` (through a temporary file renamed into place, so never a
    // partial one); wasmtime also checks the header and the engine's compatibility. The data
    // directory must not be writable by anyone but this process's user.
    unsafe { Component::deserialize_file(engine, path) }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The lowercase hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks that `digest` (64 hex digits, optionally `sha256:`-prefixed) is the sha256 of `bytes`,
/// and returns it normalized.
pub(crate) fn verify_digest(digest: &str, bytes: &[u8]) -> Result<String, AgentLoadError> {
    let expected = digest.strip_prefix("sha256:").unwrap_or(digest).to_ascii_lowercase();
    let actual = sha256_hex(bytes);
    if expected != actual {
        return Err(AgentLoadError::DigestMismatch { expected: digest.to_owned(), actual });
    }
    Ok(actual)
}

/// Feeds `Hash` output into sha256, for a tag that is stable across runs and Rust versions.
struct StableHasher(Sha256);

impl std::hash::Hasher for StableHasher {
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
