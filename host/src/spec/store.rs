//! Spec versions and the owner's confirmations, in the database.
//!
//! Versions live in `pipeline_artifacts` (name [`super::ARTIFACT`]) and are written only by the
//! pipeline's write path, which calls [`lock_idea`] and [`record_write`] in its transaction.
//! Every spec write and every confirmation of an idea first locks the idea's row, so they follow
//! one another: a confirmation names the version that was latest when it was taken, and
//! `ideas.specifications` ends at the latest version.

use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use super::SpecViolation;
use crate::events::{Event, EventKind, bus::publish_with};

/// One stored spec version.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecVersion {
    pub version: u32,
    pub spec: Value,
    /// `plugin@version` for an agent, `user:<id>` for a person, absent for the platform.
    pub written_by: Option<String>,
    pub written_at: OffsetDateTime,
}

/// The owner's confirmation of one version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmation {
    pub version: u32,
    pub confirmed_by: Option<Uuid>,
    pub confirmed_at: OffsetDateTime,
}

/// An idea's latest spec and its latest confirmation (possibly of an older version).
#[derive(Clone, Debug, PartialEq)]
pub struct CurrentSpec {
    pub latest: SpecVersion,
    pub confirmation: Option<Confirmation>,
}

impl CurrentSpec {
    /// Whether the owner confirmed the latest version.
    pub fn confirmed(&self) -> bool {
        self.confirmation.as_ref().is_some_and(|confirmation| confirmation.version == self.latest.version)
    }
}

fn version_of(version: i32) -> u32 {
    u32::try_from(version).unwrap_or(0)
}

/// The latest spec of `idea_id` with its latest confirmation, if it has a spec.
pub async fn current(db: &PgPool, idea_id: Uuid) -> sqlx::Result<Option<CurrentSpec>> {
    let latest: Option<(i32, Value, Option<String>, OffsetDateTime)> = sqlx::query_as(
        "SELECT version, content::jsonb, written_by, created_at FROM pipeline_artifacts \
         WHERE idea_id = $1 AND name = $2 ORDER BY version DESC LIMIT 1",
    )
    .bind(idea_id)
    .bind(super::ARTIFACT)
    .fetch_optional(db)
    .await?;
    let Some((version, spec, written_by, written_at)) = latest else { return Ok(None) };
    let confirmation: Option<(i32, Option<Uuid>, OffsetDateTime)> = sqlx::query_as(
        "SELECT version, confirmed_by, confirmed_at FROM spec_confirmations \
         WHERE idea_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(idea_id)
    .fetch_optional(db)
    .await?;
    Ok(Some(CurrentSpec {
        latest: SpecVersion { version: version_of(version), spec, written_by, written_at },
        confirmation: confirmation.map(|(version, confirmed_by, confirmed_at)| Confirmation {
            version: version_of(version),
            confirmed_by,
            confirmed_at,
        }),
    }))
}

/// The spec the build pipeline may build: the latest version of `idea_id`'s spec, when the owner
/// confirmed that version. `None` when there is no spec, or a newer version awaits confirmation.
pub async fn confirmed(db: &PgPool, idea_id: Uuid) -> sqlx::Result<Option<(u32, Value)>> {
    let row: Option<(i32, Value)> = sqlx::query_as(
        "SELECT a.version, a.content::jsonb FROM ( \
             SELECT version, content FROM pipeline_artifacts \
             WHERE idea_id = $1 AND name = $2 ORDER BY version DESC LIMIT 1) a \
         JOIN spec_confirmations c ON c.idea_id = $1 AND c.version = a.version",
    )
    .bind(idea_id)
    .bind(super::ARTIFACT)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(version, spec)| (version_of(version), spec)))
}

/// Why a confirmation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfirmError {
    /// The idea has no spec yet.
    #[error("this idea has no spec to confirm yet")]
    NoSpec,
    /// The caller confirmed a version that is no longer the latest.
    #[error(
        "version {asked} is not the latest spec version ({latest}); review version {latest} and confirm it"
    )]
    Stale { asked: u32, latest: u32 },
    /// The latest version does not validate (against a schema newer than the version).
    #[error("the latest spec version does not validate")]
    Invalid(Vec<SpecViolation>),
    /// The idea was deleted meanwhile.
    #[error("the idea no longer exists")]
    IdeaGone,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Records that `by` confirmed the latest spec version of `idea_id` (which must be `version`
/// when given). Confirming a version twice keeps the first confirmation.
pub async fn confirm(
    db: &PgPool,
    idea_id: Uuid,
    by: Uuid,
    version: Option<u32>,
) -> Result<Confirmation, ConfirmError> {
    let mut tx = db.begin().await?;
    if !lock_idea(&mut tx, idea_id).await? {
        return Err(ConfirmError::IdeaGone);
    }
    let latest: Option<(i32, String)> = sqlx::query_as(
        "SELECT version, content FROM pipeline_artifacts WHERE idea_id = $1 AND name = $2 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(idea_id)
    .bind(super::ARTIFACT)
    .fetch_optional(&mut *tx)
    .await?;
    let (latest, content) = latest.ok_or(ConfirmError::NoSpec)?;
    let latest_version = version_of(latest);
    if let Some(asked) = version
        && asked != latest_version
    {
        return Err(ConfirmError::Stale { asked, latest: latest_version });
    }
    super::parse_content(&content).map_err(ConfirmError::Invalid)?;
    let inserted: Option<(Option<Uuid>, OffsetDateTime)> = sqlx::query_as(
        "INSERT INTO spec_confirmations (idea_id, version, confirmed_by) VALUES ($1, $2, $3) \
         ON CONFLICT (idea_id, version) DO NOTHING RETURNING confirmed_by, confirmed_at",
    )
    .bind(idea_id)
    .bind(latest)
    .bind(by)
    .fetch_optional(&mut *tx)
    .await?;
    let (confirmed_by, confirmed_at) = match inserted {
        Some(row) => {
            let event = Event {
                kind: EventKind::SpecUpdated,
                idea_id: Some(idea_id),
                app_id: None,
                user_id: None,
                data: json!({"version": latest_version, "confirmed": true, "confirmed_by": by}),
            };
            publish_with(&mut *tx, &event).await?;
            row
        }
        None => sqlx::query_as(
            "SELECT confirmed_by, confirmed_at FROM spec_confirmations WHERE idea_id = $1 AND version = $2",
        )
        .bind(idea_id)
        .bind(latest)
        .fetch_one(&mut *tx)
        .await?,
    };
    tx.commit().await?;
    Ok(Confirmation { version: latest_version, confirmed_by, confirmed_at })
}

/// Locks the row of `idea_id` for the transaction of `conn`; `false` when there is no such idea.
pub(crate) async fn lock_idea(conn: &mut PgConnection, idea_id: Uuid) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM ideas WHERE id = $1 FOR UPDATE")
        .bind(idea_id)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// After spec version `version` (`content`) of `idea_id` was inserted in the transaction of
/// `conn`: makes it the idea's `specifications` and announces it.
pub(crate) async fn record_write(
    conn: &mut PgConnection,
    idea_id: Uuid,
    version: u32,
    content: &str,
    written_by: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE ideas SET specifications = $2::jsonb, updated_at = now() WHERE id = $1")
        .bind(idea_id)
        .bind(content)
        .execute(&mut *conn)
        .await?;
    let event = Event {
        kind: EventKind::SpecUpdated,
        idea_id: Some(idea_id),
        app_id: None,
        user_id: None,
        data: json!({"version": version, "confirmed": false, "written_by": written_by}),
    };
    publish_with(&mut *conn, &event).await?;
    Ok(())
}
