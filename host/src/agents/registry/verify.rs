//! Deciding whether a package may be published. Everything that needs no compiler is checked first,
//! in this order, and the first failure is the answer: a valid manifest, a signature at all, a
//! publisher with a registered key, bytes matching the digest that was signed, a signature that
//! verifies, a plugin name that is the publisher's, no other bytes under the same version. Only then
//! is the component compiled to check its WIT contract ([`check_description`] compares what it says
//! about itself with its manifest). Each refusal names its reason and what to do about it.

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::package::{Manifest, SUPPORTED_WIT};
use super::signing;
use crate::agents::runtime::AgentDescription;
use crate::error::ApiError;

/// A package as submitted for publishing.
#[derive(Debug, Clone)]
pub struct Submission {
    pub manifest: Manifest,
    /// The plugin's bytes.
    pub component: Vec<u8>,
    /// The sha256 the publisher signed (64 lowercase hex digits).
    pub digest: String,
    /// The signing key, when the submission names it; otherwise every key of the publisher is tried.
    pub public_key: Option<Vec<u8>>,
    /// The 64-byte ed25519 signature; `None` for an unsigned package.
    pub signature: Option<Vec<u8>>,
}

/// Why a package was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The manifest is malformed (the error names the field).
    #[error(transparent)]
    InvalidManifest(ApiError),
    /// No signature came with the package.
    #[error("refused (unsigned): the package carries no signature; sign it with `vibe plugin publish --key`")]
    Unsigned,
    /// The publisher has no account, no key, or not the key named.
    #[error("refused (unknown publisher): {0}")]
    UnknownPublisher(String),
    /// The caller publishes in another account's name.
    #[error("refused: you are not {0}; publish with your own account")]
    NotThePublisher(String),
    /// The bytes are not those the publisher signed.
    #[error("refused (tampered): the package's sha256 is {actual}, but the publisher signed {signed}")]
    Tampered { signed: String, actual: String },
    /// The signature does not verify.
    #[error(
        "refused (wrongly signed): the signature does not verify for this digest and manifest with {0}; \
         it was made with another key or the manifest was changed after signing"
    )]
    WronglySigned(String),
    /// The plugin name is another publisher's.
    #[error("refused (name taken): the plugin {0} belongs to another publisher")]
    NameTaken(String),
    /// The version exists with other bytes or another manifest.
    #[error(
        "refused (already published): {name}@{version} was published with other bytes (sha256 {digest}); \
         published versions never change, publish a new version"
    )]
    AlreadyPublished { name: String, version: String, digest: String },
    /// The component does not implement a WIT contract this host serves.
    #[error("refused (WIT-incompatible): {0}")]
    WitIncompatible(String),
    /// The component describes itself otherwise than its manifest.
    #[error("refused (manifest mismatch): {0}")]
    ManifestMismatch(String),
    /// The database failed.
    #[error(transparent)]
    Internal(#[from] ApiError),
}

impl Refusal {
    /// A stable name for the reason (logs, metrics).
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::InvalidManifest(_) => "invalid_manifest",
            Refusal::Unsigned => "unsigned",
            Refusal::UnknownPublisher(_) => "unknown_publisher",
            Refusal::NotThePublisher(_) => "not_the_publisher",
            Refusal::Tampered { .. } => "tampered",
            Refusal::WronglySigned(_) => "wrongly_signed",
            Refusal::NameTaken(_) => "name_taken",
            Refusal::AlreadyPublished { .. } => "already_published",
            Refusal::WitIncompatible(_) => "wit_incompatible",
            Refusal::ManifestMismatch(_) => "manifest_mismatch",
            Refusal::Internal(_) => "internal",
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            Refusal::InvalidManifest(error) | Refusal::Internal(error) => error,
            Refusal::Unsigned | Refusal::WronglySigned(_) => ApiError::validation("signature", message),
            Refusal::UnknownPublisher(_) => ApiError::validation("publisher", message),
            Refusal::Tampered { .. } => ApiError::validation("digest", message),
            Refusal::WitIncompatible(_) | Refusal::ManifestMismatch(_) => {
                ApiError::validation("component", message)
            }
            Refusal::NotThePublisher(_) | Refusal::NameTaken(_) => ApiError::Forbidden(message),
            Refusal::AlreadyPublished { .. } => ApiError::Conflict(message),
        }
    }
}

/// What passed the checks before compiling.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The sha256 of the bytes (equal to the signed one).
    pub digest: String,
    /// The key that verified, and its owner (the publisher).
    pub key_id: Uuid,
    pub publisher_id: Uuid,
    pub signature: Vec<u8>,
    /// Set when exactly this package is already published (publishing again is harmless).
    pub existing: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    user_id: Uuid,
    public_key: Vec<u8>,
    revoked_at: Option<OffsetDateTime>,
}

/// Every check that needs no compiler, in the documented order. `caller` is the account publishing;
/// operators may publish a package in any publisher's name (its signature still has to verify).
pub async fn check_before_compiling(
    db: &PgPool,
    caller: Uuid,
    caller_is_operator: bool,
    submission: &Submission,
) -> Result<Checked, Refusal> {
    let manifest = &submission.manifest;
    manifest.validate().map_err(Refusal::InvalidManifest)?;
    let Some(signature) = submission.signature.as_ref().filter(|s| !s.is_empty()) else {
        return Err(Refusal::Unsigned);
    };

    let keys: Vec<KeyRow> = sqlx::query_as(
        "SELECT k.id, k.user_id, k.public_key, k.revoked_at FROM publisher_keys k JOIN users u ON u.id = k.user_id \
         WHERE lower(u.email) = lower($1) ORDER BY k.created_at DESC",
    )
    .bind(&manifest.publisher)
    .fetch_all(db)
    .await
    .map_err(ApiError::from)?;
    if keys.is_empty() {
        return Err(Refusal::UnknownPublisher(format!(
            "no account publishing as {} has a registered key (register one with POST /api/users/me/keys)",
            manifest.publisher
        )));
    }
    let candidates: Vec<&KeyRow> = match &submission.public_key {
        Some(named) => {
            let fingerprint = signing::fingerprint(named);
            let Some(key) = keys.iter().find(|key| &key.public_key == named) else {
                return Err(Refusal::UnknownPublisher(format!(
                    "the key {fingerprint} is not registered to {}",
                    manifest.publisher
                )));
            };
            if key.revoked_at.is_some() {
                return Err(Refusal::UnknownPublisher(format!(
                    "the key {fingerprint} of {} was revoked",
                    manifest.publisher
                )));
            }
            vec![key]
        }
        None => keys.iter().filter(|key| key.revoked_at.is_none()).collect(),
    };
    let Some(publisher_id) = keys.first().map(|key| key.user_id) else {
        return Err(Refusal::UnknownPublisher(format!("{} has no key", manifest.publisher)));
    };
    if candidates.is_empty() {
        return Err(Refusal::UnknownPublisher(format!("every key of {} was revoked", manifest.publisher)));
    }
    if publisher_id != caller && !caller_is_operator {
        return Err(Refusal::NotThePublisher(manifest.publisher.clone()));
    }

    let actual = crate::apps::artifacts::digest(&submission.component);
    if submission.digest.to_ascii_lowercase() != actual {
        return Err(Refusal::Tampered { signed: submission.digest.clone(), actual });
    }
    let Some(key) =
        candidates.iter().find(|key| signing::verify(&key.public_key, &actual, manifest, signature))
    else {
        let keys = match &submission.public_key {
            Some(named) => format!("the key {}", signing::fingerprint(named)),
            None => format!("any key of {}", manifest.publisher),
        };
        return Err(Refusal::WronglySigned(keys));
    };

    let owner: Option<Uuid> = sqlx::query_scalar("SELECT publisher_id FROM plugins WHERE name = $1")
        .bind(&manifest.name)
        .fetch_optional(db)
        .await
        .map_err(ApiError::from)?;
    if owner.is_some_and(|owner| owner != publisher_id) {
        return Err(Refusal::NameTaken(manifest.name.clone()));
    }
    let existing = already_published(db, manifest, &actual).await?;
    Ok(Checked { digest: actual, key_id: key.id, publisher_id, signature: signature.clone(), existing })
}

/// The id of this exact package if it is already published; a refusal if the version exists otherwise.
async fn already_published(db: &PgPool, manifest: &Manifest, digest: &str) -> Result<Option<Uuid>, Refusal> {
    let row: Option<(Uuid, String, serde_json::Value)> = sqlx::query_as(
        "SELECT id, digest, manifest FROM plugin_versions WHERE plugin_name = $1 AND version = $2",
    )
    .bind(&manifest.name)
    .bind(&manifest.version)
    .fetch_optional(db)
    .await
    .map_err(ApiError::from)?;
    let Some((id, published_digest, published_manifest)) = row else { return Ok(None) };
    let same_manifest = serde_json::from_value::<Manifest>(published_manifest)
        .is_ok_and(|published| published.canonical() == manifest.canonical());
    if published_digest == digest && same_manifest {
        Ok(Some(id))
    } else {
        Err(Refusal::AlreadyPublished {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            digest: published_digest,
        })
    }
}

/// Refuses a manifest naming a WIT package this host does not serve (before compiling anything).
pub fn check_wit_package(manifest: &Manifest) -> Result<(), Refusal> {
    if SUPPORTED_WIT.contains(&manifest.wit.as_str()) {
        Ok(())
    } else {
        Err(Refusal::WitIncompatible(format!(
            "the manifest names {}, but this host serves {}",
            manifest.wit,
            SUPPORTED_WIT.join(", ")
        )))
    }
}

/// Refuses a plugin whose self-description disagrees with its signed manifest: it must carry the
/// manifest's name and version, serve exactly its agent types, and want no capability the manifest
/// (and so the operator's approval) does not cover.
pub fn check_description(manifest: &Manifest, described: &AgentDescription) -> Result<(), Refusal> {
    if described.name != manifest.name || described.version != manifest.version {
        return Err(Refusal::ManifestMismatch(format!(
            "the plugin describes itself as {}@{}, its manifest as {}",
            described.name,
            described.version,
            manifest.version_ref()
        )));
    }
    let mut theirs: Vec<&String> = described.agent_types.iter().collect();
    let mut ours: Vec<&String> = manifest.agent_types.iter().collect();
    theirs.sort();
    theirs.dedup();
    ours.sort();
    if theirs != ours {
        return Err(Refusal::ManifestMismatch(format!(
            "the plugin serves the agent types {:?}, its manifest names {:?}",
            described.agent_types, manifest.agent_types
        )));
    }
    if let Some(extra) = described.capabilities.iter().find(|c| !manifest.capabilities.contains(c)) {
        return Err(Refusal::ManifestMismatch(format!(
            "the plugin wants the capability {extra}, which its manifest does not declare"
        )));
    }
    Ok(())
}
