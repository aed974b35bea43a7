//! The content-addressed store of app components: each is kept once, under the sha256 of its bytes,
//! behind [`ArtifactStore`] so that a cluster can move them to object storage. [`LocalArtifacts`]
//! keeps them in a directory (`VIBE_DATA_DIR/artifacts` by default); every process that serves apps
//! must reach the same store.

use std::path::{Path, PathBuf};

use anyhow::Context;
use async_trait::async_trait;
use sha2::{Digest, Sha256};

/// Where component bytes are kept, by digest (64 lowercase hex digits of their sha256).
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Stores `bytes` (if not stored yet) and returns their digest.
    async fn put(&self, bytes: &[u8]) -> anyhow::Result<String>;
    /// The bytes stored under `digest`, if any.
    async fn get(&self, digest: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// A local file holding them, when the store is a local directory (the runtime then maps its
    /// precompiled artifact without reading the component at all).
    fn local_file(&self, digest: &str) -> Option<PathBuf>;
}

/// The sha256 of `bytes`, as 64 lowercase hex digits.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn valid_digest(digest: &str) -> bool {
    digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Components in a local directory, as `<dir>/<digest>.wasm`.
#[derive(Debug, Clone)]
pub struct LocalArtifacts {
    dir: PathBuf,
}

impl LocalArtifacts {
    /// A store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalArtifacts { dir: dir.into() }
    }

    fn path(&self, digest: &str) -> Option<PathBuf> {
        valid_digest(digest).then(|| self.dir.join(format!("{digest}.wasm")))
    }
}

#[async_trait]
impl ArtifactStore for LocalArtifacts {
    async fn put(&self, bytes: &[u8]) -> anyhow::Result<String> {
        let digest = digest(bytes);
        let Some(path) = self.path(&digest) else { anyhow::bail!("computed an invalid digest") };
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(digest);
        }
        let dir = self.dir.clone();
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &path, &bytes))
            .await
            .context("storing the component")??;
        Ok(digest)
    }

    async fn get(&self, digest: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let Some(path) = self.path(digest) else { return Ok(None) };
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn local_file(&self, digest: &str) -> Option<PathBuf> {
        self.path(digest).filter(|path| path.is_file())
    }
}

/// Writes to a temporary file and renames it into place, so that readers (other processes too)
/// never see a partial component.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let temporary = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn components_are_kept_once_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalArtifacts::new(dir.path().join("artifacts"));
        let digest = store.put(b"\0asm bytes").await.unwrap();
        assert_eq!(digest, super::digest(b"\0asm bytes"));
        assert_eq!(store.put(b"\0asm bytes").await.unwrap(), digest, "storing twice is harmless");
        assert_eq!(store.get(&digest).await.unwrap().as_deref(), Some(&b"\0asm bytes"[..]));
        assert!(store.local_file(&digest).is_some());
        assert_eq!(store.get(&"0".repeat(64)).await.unwrap(), None);
        assert_eq!(store.get("../../etc/passwd").await.unwrap(), None, "only digests name files");
    }
}
