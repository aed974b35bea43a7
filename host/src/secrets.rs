//! Secrets Vibe generates for itself on first start and keeps in the data directory.
//!
//! Each secret is a file of random bytes, created with mode 0600 so only the account running Vibe reads
//! it; its contents never reach a log (the wrapper type has no `Debug` that prints them).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use rand::RngCore;

/// Secret bytes that never print.
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// A secret made from given bytes (tests).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Reads the secret stored at `path`, creating it with `len` random bytes when it does not exist yet.
pub fn load_or_generate(path: &Path, len: usize) -> anyhow::Result<Secret> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    // create_new: two processes starting at once never both write; the loser reads the winner's key.
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut file) => {
            file.write_all(&bytes)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(Secret(bytes))
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read(path, len),
        Err(err) => Err(err).with_context(|| format!("creating {}", path.display())),
    }
}

fn read(path: &Path, len: usize) -> anyhow::Result<Secret> {
    let mode = fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!("{} is readable by other accounts (mode {mode:o}); run `chmod 600` on it", path.display());
    }
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() < len {
        bail!(
            "{} is shorter than {len} bytes; delete it to generate a new one (this logs everyone out)",
            path.display()
        );
    }
    Ok(Secret(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_with_private_mode_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/token.key");
        let first = load_or_generate(&path, 32).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = load_or_generate(&path, 32).unwrap();
        assert_eq!(first.expose(), second.expose());
        assert_eq!(format!("{first:?}"), "Secret(..)");
    }

    #[test]
    fn refuses_a_key_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.key");
        load_or_generate(&path, 32).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_generate(&path, 32).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
