//! Publisher signatures: ed25519 over the package's digest and its manifest's canonical form, made
//! with a key registered to the publisher's account.
//!
//! The signed message is `vibe-plugin-signature-v1\n<digest>\n<canonical manifest>`: the prefix keeps a
//! plugin signature from ever being valid for anything else signed with the same key. Key files hold
//! one line of base64: the 32-byte secret seed (file mode 0600) or the 32-byte public key.

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::package::Manifest;
use crate::error::ApiError;

/// What every signed message starts with.
const CONTEXT: &[u8] = b"vibe-plugin-signature-v1\n";
/// The most keys one account may have registered at once.
const MAX_KEYS_PER_ACCOUNT: i64 = 20;

/// The message a publisher signs for the package whose bytes have sha256 `digest`.
pub fn message(digest: &str, manifest: &Manifest) -> Vec<u8> {
    let mut message = CONTEXT.to_vec();
    message.extend_from_slice(digest.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(&manifest.canonical());
    message
}

/// Signs the package `digest` + `manifest` with `key`.
pub fn sign(key: &SigningKey, digest: &str, manifest: &Manifest) -> [u8; 64] {
    key.sign(&message(digest, manifest)).to_bytes()
}

/// Whether `signature` is `public_key`'s signature of `digest` + `manifest`.
pub fn verify(public_key: &[u8], digest: &str, manifest: &Manifest, signature: &[u8]) -> bool {
    let Ok(public_key) = <[u8; 32]>::try_from(public_key) else { return false };
    let Ok(key) = VerifyingKey::from_bytes(&public_key) else { return false };
    let Ok(signature) = Signature::from_slice(signature) else { return false };
    // `verify_strict` refuses the malleable and small-order edge cases plain verification lets through.
    key.verify_strict(&message(digest, manifest), &signature).is_ok()
}

/// A fresh signing key from the operating system's random source.
pub fn generate() -> SigningKey {
    SigningKey::from_bytes(&rand::random::<[u8; 32]>())
}

/// Writes `key` to `path` (mode 0600, refusing to overwrite) and its public half to `<path>.pub`.
pub fn write_key_files(key: &SigningKey, path: &Path) -> anyhow::Result<std::path::PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} (an existing key is never overwritten)", path.display()))?;
    writeln!(file, "{}", BASE64.encode(key.to_bytes()))
        .with_context(|| format!("writing {}", path.display()))?;
    let mut public_path = path.as_os_str().to_owned();
    public_path.push(".pub");
    let public_path = std::path::PathBuf::from(public_path);
    std::fs::write(&public_path, format!("{}\n", BASE64.encode(key.verifying_key().to_bytes())))
        .with_context(|| format!("writing {}", public_path.display()))?;
    Ok(public_path)
}

/// Reads a secret key file written by [`write_key_files`].
pub fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading the key {}", path.display()))?;
    let seed: [u8; 32] = BASE64
        .decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .with_context(|| format!("{} is not a key written by `vibe plugin keygen`", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A public key's short fingerprint (the first 16 hex digits of its sha256), for people to compare.
pub fn fingerprint(public_key: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(public_key)[..8])
}

/// A key registered to an account.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PublisherKey {
    pub id: Uuid,
    /// The 32-byte ed25519 public key, base64.
    #[sqlx(skip)]
    pub public_key: String,
    /// Its fingerprint.
    #[sqlx(skip)]
    pub fingerprint: String,
    pub label: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was revoked; signatures by a revoked key are refused.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(skip)]
    #[sqlx(rename = "public_key")]
    pub raw: Vec<u8>,
}

impl PublisherKey {
    fn filled(mut self) -> Self {
        self.public_key = BASE64.encode(&self.raw);
        self.fingerprint = fingerprint(&self.raw);
        self
    }
}

/// Decodes a base64 public key and checks that it is a usable ed25519 point.
pub fn parse_public_key(text: &str) -> Result<Vec<u8>, ApiError> {
    let bytes = BASE64.decode(text.trim()).map_err(|_| ApiError::validation("public_key", "not base64"))?;
    let array: [u8; 32] = bytes
        .clone()
        .try_into()
        .map_err(|_| ApiError::validation("public_key", "an ed25519 public key is 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&array)
        .map_err(|_| ApiError::validation("public_key", "not a valid ed25519 public key"))?;
    if key.is_weak() {
        return Err(ApiError::validation("public_key", "a weak (small-order) key cannot sign anything"));
    }
    Ok(bytes)
}

/// Registers `public_key` to `user`.
pub async fn register(
    db: &PgPool,
    user: Uuid,
    public_key: &[u8],
    label: &str,
) -> Result<PublisherKey, ApiError> {
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM publisher_keys WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user)
            .fetch_one(db)
            .await?;
    if count >= MAX_KEYS_PER_ACCOUNT {
        return Err(ApiError::Conflict(format!("at most {MAX_KEYS_PER_ACCOUNT} keys; revoke one first")));
    }
    let key: PublisherKey = sqlx::query_as(
        "INSERT INTO publisher_keys (id, user_id, public_key, label) VALUES ($1, $2, $3, $4) \
         RETURNING id, label, created_at, revoked_at, public_key",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(public_key)
    .bind(label)
    .fetch_one(db)
    .await
    .map_err(|error| match ApiError::from(error) {
        ApiError::Conflict(_) => ApiError::Conflict("that key is already registered".into()),
        other => other,
    })?;
    Ok(key.filled())
}

/// The keys of `user`, newest first.
pub async fn list(db: &PgPool, user: Uuid) -> Result<Vec<PublisherKey>, ApiError> {
    let keys: Vec<PublisherKey> = sqlx::query_as(
        "SELECT id, label, created_at, revoked_at, public_key FROM publisher_keys \
         WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
    )
    .bind(user)
    .fetch_all(db)
    .await?;
    Ok(keys.into_iter().map(PublisherKey::filled).collect())
}

/// Revokes key `id` of `user`: it signs nothing from now on (versions it signed stay published).
pub async fn revoke(db: &PgPool, user: Uuid, id: Uuid) -> Result<(), ApiError> {
    let done = sqlx::query(
        "UPDATE publisher_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_covers_the_digest_and_the_manifest() {
        let key = generate();
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "name": "echo", "version": "1.0.0", "agent_types": ["ideation"],
            "wit": "vibe:agent@0.1.0", "kind": "component", "publisher": "a@b.c"
        }))
        .unwrap();
        let digest = "ab".repeat(32);
        let public = key.verifying_key().to_bytes();
        let signature = sign(&key, &digest, &manifest);
        assert!(verify(&public, &digest, &manifest, &signature));
        assert!(!verify(&public, &"cd".repeat(32), &manifest, &signature), "another digest");
        let mut other = manifest.clone();
        other.version = "1.0.1".into();
        assert!(!verify(&public, &digest, &other, &signature), "another manifest");
        assert!(
            !verify(&generate().verifying_key().to_bytes(), &digest, &manifest, &signature),
            "another key"
        );
        assert!(!verify(&public, &digest, &manifest, &signature[..63]), "a truncated signature");
    }
}
