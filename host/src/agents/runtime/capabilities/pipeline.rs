//! `vibe:agent/pipeline`: the idea's pipeline artifacts, versioned, in `pipeline_artifacts`.
//! Reading needs `pipeline-read`, writing `pipeline-write`. The store functions are public: the
//! dispatcher uses them to hand a turn the artifacts it asked for and to write a successful
//! turn's output artifacts ([`write_in`], inside the transaction that posts its replies).
//!
//! The artifact named `spec` is the idea's app spec (`crate::spec`): a version that does not
//! parse or validate is refused with `invalid` and the failing paths, whoever writes it, and a
//! stored version becomes `ideas.specifications` in the same transaction.

use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

use super::{CallShared, CapError};
use crate::agents::runtime::bindings::{
    pipeline as wit, wit::ContentType as WitContentType, wit::Error as WitError,
};
use crate::agents::runtime::state::CallState;
use crate::agents::runtime::types::{Artifact, ArtifactWrite, Capability, ContentType};

/// The largest artifact content, in bytes.
pub const MAX_ARTIFACT_BYTES: usize = 8 << 20;

/// An artifact's name and latest version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactInfo {
    pub name: String,
    pub content_type: ContentType,
    pub version: u32,
}

type Row = (String, String, String, i32);

fn artifact((name, content_type, content, version): Row) -> Artifact {
    Artifact {
        name,
        // The table's CHECK allows only these two.
        content_type: ContentType::parse(&content_type).unwrap_or(ContentType::Text),
        content,
        version: u32::try_from(version).unwrap_or(0),
    }
}

/// The latest version of artifact `name` of `idea_id`.
pub async fn latest(db: &PgPool, idea_id: Uuid, name: &str) -> sqlx::Result<Option<Artifact>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT name, content_type, content, version FROM pipeline_artifacts \
         WHERE idea_id = $1 AND name = $2 ORDER BY version DESC LIMIT 1",
    )
    .bind(idea_id)
    .bind(name)
    .fetch_optional(db)
    .await?;
    Ok(row.map(artifact))
}

/// The latest versions of the artifacts of `idea_id` named in `names` (those that exist), by name.
pub async fn latest_of(db: &PgPool, idea_id: Uuid, names: &[String]) -> sqlx::Result<Vec<Artifact>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT DISTINCT ON (name) name, content_type, content, version FROM pipeline_artifacts \
         WHERE idea_id = $1 AND name = ANY($2) ORDER BY name, version DESC",
    )
    .bind(idea_id)
    .bind(names)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(artifact).collect())
}

/// Every artifact of `idea_id`, latest versions, by name.
pub async fn list(db: &PgPool, idea_id: Uuid) -> sqlx::Result<Vec<ArtifactInfo>> {
    let rows: Vec<(String, String, i32)> = sqlx::query_as(
        "SELECT DISTINCT ON (name) name, content_type, version FROM pipeline_artifacts \
         WHERE idea_id = $1 ORDER BY name, version DESC",
    )
    .bind(idea_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, content_type, version)| ArtifactInfo {
            name,
            content_type: ContentType::parse(&content_type).unwrap_or(ContentType::Text),
            version: u32::try_from(version).unwrap_or(0),
        })
        .collect())
}

/// Refuses a malformed name, oversized content, JSON content that does not parse, or a spec
/// that does not validate.
pub fn check(write: &ArtifactWrite) -> Result<(), CapError> {
    let name = &write.name;
    let valid_name = (1..=128).contains(&name.len())
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if !valid_name {
        return Err(CapError::Invalid(format!(
            "artifact names are 1 to 128 of a-z, 0-9, `_`, `.`, `-`, starting with a letter or digit; `{}` is not",
            super::log::truncate(name, 140)
        )));
    }
    if write.content.len() > MAX_ARTIFACT_BYTES {
        return Err(CapError::TooLarge(format!("artifacts are at most {MAX_ARTIFACT_BYTES} bytes")));
    }
    if write.content_type == ContentType::Json
        && let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(&write.content)
    {
        return Err(CapError::Invalid(format!("artifact `{name}` is not valid JSON: {error}")));
    }
    if name == crate::spec::ARTIFACT {
        if write.content_type != ContentType::Json {
            return Err(CapError::Invalid("the `spec` artifact must be JSON".to_owned()));
        }
        if let Err(violations) = crate::spec::parse_content(&write.content) {
            return Err(CapError::Invalid(format!(
                "the spec does not validate: {}",
                crate::spec::summarize(&violations)
            )));
        }
    }
    Ok(())
}

/// Inserts the next version of an artifact (unless `$7`, the expected latest version, is given
/// and is not the latest) and returns its number.
const INSERT_VERSION: &str = "INSERT INTO pipeline_artifacts \
     (idea_id, name, version, content_type, content, written_by, session_id) \
     SELECT $1, $2, COALESCE(max(version), 0) + 1, $3, $4, $5, $6 FROM pipeline_artifacts \
     WHERE idea_id = $1 AND name = $2 \
     HAVING $7::bigint IS NULL OR COALESCE(max(version), 0) = $7 \
     RETURNING version";

async fn insert_version<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    idea_id: Uuid,
    artifact: &ArtifactWrite,
    expected: Option<i64>,
    written_by: Option<&str>,
    session_id: Option<Uuid>,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(INSERT_VERSION)
        .bind(idea_id)
        .bind(&artifact.name)
        .bind(artifact.content_type.as_str())
        .bind(&artifact.content)
        .bind(written_by)
        .bind(session_id)
        .bind(expected)
        .fetch_optional(executor)
        .await
}

fn stale(artifact: &ArtifactWrite, expected_version: Option<u32>) -> CapError {
    CapError::Conflict(format!(
        "artifact `{}` is no longer at version {}",
        artifact.name,
        expected_version.unwrap_or(0)
    ))
}

/// Writes a new version of an artifact of `idea_id` and returns its number. With
/// `expected_version`, refuses with `conflict` unless the latest version is that one (0: none).
pub async fn write(
    db: &PgPool,
    idea_id: Uuid,
    artifact: &ArtifactWrite,
    expected_version: Option<u32>,
    written_by: Option<&str>,
    session_id: Option<Uuid>,
) -> Result<u32, CapError> {
    let mut conn = db.acquire().await.map_err(|error| CapError::database("pipeline", &error))?;
    write_in(&mut conn, idea_id, artifact, expected_version, written_by, session_id).await
}

/// [`write`] on `conn`, inside the caller's transaction when it is in one (the orchestrator writes a
/// turn's artifacts together with its replies); each try runs in a savepoint, so a lost race for the
/// next version is retried without aborting the caller's transaction.
pub async fn write_in(
    conn: &mut PgConnection,
    idea_id: Uuid,
    artifact: &ArtifactWrite,
    expected_version: Option<u32>,
    written_by: Option<&str>,
    session_id: Option<Uuid>,
) -> Result<u32, CapError> {
    check(artifact)?;
    if artifact.name == crate::spec::ARTIFACT {
        return write_spec(conn, idea_id, artifact, expected_version, written_by, session_id).await;
    }
    let expected = expected_version.map(i64::from);
    // Two writers may race for the same next version; the loser retries (or, when it expected a
    // version, has lost it).
    for _ in 0..5 {
        let mut attempt = conn.begin().await.map_err(|error| write_failed(&error))?;
        let written =
            insert_version(&mut *attempt, idea_id, artifact, expected, written_by, session_id).await;
        if written.is_err() {
            attempt.rollback().await.map_err(|error| write_failed(&error))?;
        } else {
            attempt.commit().await.map_err(|error| write_failed(&error))?;
        }
        match written {
            Ok(Some(version)) => return Ok(u32::try_from(version).unwrap_or(0)),
            Ok(None) => return Err(stale(artifact, expected_version)),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() && expected.is_none() => {
                continue;
            }
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                return Err(CapError::Conflict(format!(
                    "artifact `{}` was written meanwhile",
                    artifact.name
                )));
            }
            Err(error) => return Err(write_failed(&error)),
        }
    }
    Err(CapError::Conflict(format!("artifact `{}` is being written by others; try again", artifact.name)))
}

fn write_failed(error: &sqlx::Error) -> CapError {
    match error {
        sqlx::Error::Database(db_error) if db_error.is_foreign_key_violation() => {
            CapError::Invalid("the idea or the session no longer exists".to_owned())
        }
        error => CapError::database("pipeline", error),
    }
}

/// Writes a spec version (already validated by [`check`]) under the idea's row lock, making it
/// the idea's `specifications` and announcing it, all in one transaction (a savepoint of the
/// caller's, when `conn` is in one).
async fn write_spec(
    conn: &mut PgConnection,
    idea_id: Uuid,
    artifact: &ArtifactWrite,
    expected_version: Option<u32>,
    written_by: Option<&str>,
    session_id: Option<Uuid>,
) -> Result<u32, CapError> {
    let failed = |error: sqlx::Error| write_failed(&error);
    let mut tx = conn.begin().await.map_err(failed)?;
    if !crate::spec::store::lock_idea(&mut tx, idea_id).await.map_err(failed)? {
        return Err(CapError::Invalid("the idea or the session no longer exists".to_owned()));
    }
    let expected = expected_version.map(i64::from);
    let version = insert_version(&mut *tx, idea_id, artifact, expected, written_by, session_id)
        .await
        .map_err(failed)?
        .ok_or_else(|| stale(artifact, expected_version))?;
    let version = u32::try_from(version).unwrap_or(0);
    crate::spec::store::record_write(&mut tx, idea_id, version, &artifact.content, written_by)
        .await
        .map_err(failed)?;
    tx.commit().await.map_err(failed)?;
    Ok(version)
}

impl CallShared {
    fn written_by(&self) -> String {
        format!("{}@{}", self.plugin_name, self.plugin_version)
    }

    pub(crate) async fn pipeline_get(&self, name: &str) -> Result<Option<Artifact>, CapError> {
        self.require(Capability::PipelineRead)?;
        latest(&self.services()?.db, self.idea_id, name)
            .await
            .map_err(|error| CapError::database("pipeline", &error))
    }

    pub(crate) async fn pipeline_list(&self) -> Result<Vec<ArtifactInfo>, CapError> {
        self.require(Capability::PipelineRead)?;
        list(&self.services()?.db, self.idea_id).await.map_err(|error| CapError::database("pipeline", &error))
    }

    pub(crate) async fn pipeline_put(
        &self,
        artifact: &ArtifactWrite,
        expected: Option<u32>,
    ) -> Result<u32, CapError> {
        self.require(Capability::PipelineWrite)?;
        let by = self.written_by();
        write(&self.services()?.db, self.idea_id, artifact, expected, Some(&by), Some(self.session_id)).await
    }
}

impl wit::Host for CallState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<Option<wit::Artifact>, WitError>> {
        Ok(self.call.pipeline_get(&name).await.map(|found| found.map(Into::into)).map_err(Into::into))
    }

    async fn list(&mut self) -> wasmtime::Result<Result<Vec<wit::ArtifactInfo>, WitError>> {
        let listed = self.call.pipeline_list().await.map(|infos| {
            infos
                .into_iter()
                .map(|info| wit::ArtifactInfo {
                    name: info.name,
                    content_type: info.content_type.into(),
                    version: info.version,
                })
                .collect()
        });
        Ok(listed.map_err(Into::into))
    }

    async fn put(
        &mut self,
        name: String,
        content_type: WitContentType,
        content: String,
        expected_version: Option<u32>,
    ) -> wasmtime::Result<Result<u32, WitError>> {
        let artifact = ArtifactWrite { name, content_type: content_type.into(), content };
        Ok(self.call.pipeline_put(&artifact, expected_version).await.map_err(Into::into))
    }
}
