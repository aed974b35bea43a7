//! Repairing a build with the build agent: when the generated code does not compile or its
//! tests fail and an LLM is configured ([`enabled`]), the pipeline hands the errors to the agent
//! routed for the `build` type (first-party: `plugins/build`) and gets corrected files back.
//!
//! One repair ([`repair`]) is one agent turn:
//! 1. the errors are posted in the build's repair session (one per build, see `session.rs`;
//!    [`finish`] closes it when the build ends), billed to the person building;
//! 2. the current files are written as the idea's `code` artifact (`{"files": {path: content}}`,
//!    `written_by` [`WRITTEN_BY`]) through the pipeline's write path, unless its latest version
//!    already holds them;
//! 3. the agent takes the turn with the spec, the code and the errors as its message; its
//!    output may only write `code`, and only change Rust sources under `src/` (the platform owns
//!    the manifest and the migrations): anything else is refused whole, nothing written
//!    (`files.rs`), and the refusal is posted in the session;
//! 4. its replies go into the session's transcript and the `code` artifact is read back: the
//!    files it changed, over the current ones, are the next attempt's app (`None`: unchanged).
//!
//! The pipeline owns the loop and its budget: it compiles and tests what comes back, counts the
//! attempts, and reads [`credits_consumed`] to stop when the build's credit budget is spent.

pub mod files;
mod session;

use serde_json::json;
use uuid::Uuid;

use crate::agents::dispatch::{DispatchError, run_turn};
use crate::agents::runtime::capabilities::pipeline;
use crate::agents::runtime::{
    Artifact, ArtifactWrite, CapError, ContentType, Message, Role, TurnInput, TurnOutput,
};
use crate::build::codegen::GeneratedApp;
use crate::conversation::context;
use crate::state::AppState;
use session::Posted;

/// The agent type that repairs builds.
pub const AGENT_TYPE: &str = "build";
/// The artifact holding the app's files.
pub const ARTIFACT: &str = "code";
/// `written_by` of the versions of `code` the platform writes.
pub const WRITTEN_BY: &str = "platform";
/// The most error text handed to the agent (and kept in the transcript), in bytes: the first
/// errors are the ones that matter, compilers repeat themselves after.
pub const MAX_ERRORS_BYTES: usize = 32 << 10;

/// Why a repair did not give an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepairError {
    /// The agent's turn failed: no build agent routed, the model unreachable or out of credits,
    /// the model's answer refused by the agent, a limit hit.
    #[error("the build agent failed: {}", .0.public_message())]
    Agent(#[from] DispatchError),
    /// The agent's change touches what the platform owns, or is not the `code` artifact.
    #[error("the build agent's change was refused: {0}")]
    Refused(String),
    /// The pipeline refused a version of `code` (too large, malformed) or could not store it.
    #[error("the code could not be stored: {0}")]
    Artifact(#[from] CapError),
    /// The database failed.
    #[error("the database is unavailable: {0}")]
    Database(#[from] sqlx::Error),
}

/// Whether builds are repaired by the agent: only with an LLM configured (in guided mode the
/// templates are used as generated).
pub fn enabled(state: &AppState) -> bool {
    state.llm.configured()
}

/// Asks the build agent to fix `errors` (the compiler's diagnostics or the failing tests) in
/// `app`, generated from `spec` for idea `idea_id` built by `user_id` (who pays for the model).
/// `Ok(None)`: nothing changed (guided mode, or the agent changed nothing); `Ok(Some(app))`: the
/// files with the agent's changes, only ever to `src/**.rs`.
pub async fn repair(
    state: &AppState,
    idea_id: Uuid,
    user_id: Uuid,
    spec: &serde_json::Value,
    app: &GeneratedApp,
    errors: &str,
) -> Result<Option<GeneratedApp>, RepairError> {
    if !enabled(state) {
        return Ok(None);
    }
    let db = &state.db;
    let errors = head(errors.trim(), MAX_ERRORS_BYTES);
    let attempt = session::begin(db, false, idea_id, user_id, errors).await?;
    tracing::info!(idea = %idea_id, session = %attempt.session_id, attempt = attempt.number, "the build agent repairs a build");
    let posted = Posted { guided: false, idea_id, session_id: attempt.session_id };
    let code = ArtifactWrite {
        name: ARTIFACT.to_owned(),
        content_type: ContentType::Json,
        content: files::to_content(app),
    };
    // The latest version when it already holds these files (the agent's own fix coming back for
    // another attempt), else a new one.
    let given = match pipeline::latest(db, idea_id, ARTIFACT).await? {
        Some(latest) if latest.content == code.content => latest.version,
        _ => pipeline::write(db, idea_id, &code, None, Some(WRITTEN_BY), Some(attempt.session_id)).await?,
    };
    let spec_version: Option<i32> =
        sqlx::query_scalar("SELECT max(version) FROM pipeline_artifacts WHERE idea_id = $1 AND name = $2")
            .bind(idea_id)
            .bind(crate::spec::ARTIFACT)
            .fetch_one(db)
            .await?;
    let input = TurnInput {
        agent_type: AGENT_TYPE.to_owned(),
        transcript: context::transcript_window(db, attempt.session_id, attempt.message.id).await?,
        artifacts: vec![
            Artifact {
                name: crate::spec::ARTIFACT.to_owned(),
                content_type: ContentType::Json,
                content: spec.to_string(),
                version: spec_version.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
            },
            Artifact {
                name: ARTIFACT.to_owned(),
                content_type: ContentType::Json,
                content: code.content,
                version: given,
            },
        ],
        message: Message { role: Role::System, agent_type: None, content: errors.to_owned() },
    };
    let output = match run_turn(state, AGENT_TYPE, attempt.session_id, input).await {
        Ok(output) => output,
        Err(error) => {
            let data = json!({ "error": { "code": error.code(), "message": error.public_message() } });
            note(state, &posted, &error.public_message(), data).await?;
            return Err(RepairError::Agent(error));
        }
    };
    let version: Option<String> =
        sqlx::query_scalar("SELECT agent_version FROM agent_sessions WHERE id = $1")
            .bind(attempt.session_id)
            .fetch_one(db)
            .await?;
    let written_by = version.unwrap_or_else(|| AGENT_TYPE.to_owned());
    if let Err(why) = check_output(app, &output) {
        return Err(refuse(state, &posted, why).await);
    }
    let mut tx = db.begin().await?;
    for artifact in &output.artifacts {
        pipeline::write_in(&mut tx, idea_id, artifact, None, Some(&written_by), Some(attempt.session_id))
            .await?;
    }
    for reply in &output.replies {
        posted.message(&mut tx, "agent", Some((AGENT_TYPE, written_by.as_str())), reply, None).await?;
    }
    tx.commit().await?;

    // Read back: the agent may also have written `code` during its turn (`pipeline.put`).
    let Some(latest) = pipeline::latest(db, idea_id, ARTIFACT).await? else { return Ok(None) };
    if latest.version <= given {
        return Ok(None);
    }
    let changes = match files::parse(&latest.content).and_then(|proposed| files::changes(app, &proposed)) {
        Ok(changes) => changes,
        Err(why) => return Err(refuse(state, &posted, why).await),
    };
    Ok((!changes.is_empty()).then(|| files::apply(app, &changes)))
}

/// The credits the build's repair session has consumed so far (0 before the first repair): the
/// pipeline stops repairing when its credit budget is spent.
pub async fn credits_consumed(state: &AppState, idea_id: Uuid) -> Result<i64, RepairError> {
    Ok(session::credits(&state.db, idea_id).await?)
}

/// Ends the build's repair session (the next build opens its own) and returns the credits it
/// consumed (0 if there was none).
pub async fn finish(state: &AppState, idea_id: Uuid) -> Result<i64, RepairError> {
    Ok(session::close(&state.db, idea_id).await?)
}

/// Refuses an output that writes anything but `code`, or a `code` that changes anything but
/// `src/**.rs`; nothing of a refused output is written.
fn check_output(app: &GeneratedApp, output: &TurnOutput) -> Result<(), String> {
    for artifact in &output.artifacts {
        if artifact.name != ARTIFACT {
            return Err(format!(
                "the build agent may write only the `{ARTIFACT}` artifact, not `{}`",
                artifact.name
            ));
        }
        files::parse(&artifact.content).and_then(|proposed| files::changes(app, &proposed))?;
    }
    Ok(())
}

/// Posts `why` in the session and returns the refusal.
async fn refuse(state: &AppState, posted: &Posted, why: String) -> RepairError {
    let text = format!("The build agent's change was refused: {why}. The code stays as it was.");
    if let Err(error) = note(state, posted, &text, json!({ "refused": why })).await {
        return error;
    }
    RepairError::Refused(why)
}

/// A system message in the repair session (what went wrong, for the owner reading it).
async fn note(
    state: &AppState,
    posted: &Posted,
    text: &str,
    data: serde_json::Value,
) -> Result<(), RepairError> {
    let mut conn = state.db.acquire().await?;
    posted.message(&mut conn, "system", None, text, Some(data)).await?;
    Ok(())
}

/// The first `max` bytes of `text`, cut at a character boundary.
fn head(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn app() -> GeneratedApp {
        GeneratedApp {
            files: BTreeMap::from([
                ("src/lib.rs".to_owned(), "fn broken() {}".to_owned()),
                ("migrations/0001_initial.sql".to_owned(), "CREATE TABLE t ();".to_owned()),
            ]),
        }
    }

    fn writing(name: &str, files: serde_json::Value) -> TurnOutput {
        TurnOutput {
            replies: vec!["done".to_owned()],
            artifacts: vec![ArtifactWrite {
                name: name.to_owned(),
                content_type: ContentType::Json,
                content: json!({ "files": files }).to_string(),
            }],
            tool_calls: Vec::new(),
            hand_off: None,
        }
    }

    /// Whatever plugin is routed for `build`, the host lets through only changes to `src/**.rs`.
    #[test]
    fn an_agent_output_changing_more_than_sources_is_refused_whoever_wrote_it() {
        let fixed =
            json!({"src/lib.rs": "fn fixed() {}", "migrations/0001_initial.sql": "CREATE TABLE t ();"});
        assert_eq!(check_output(&app(), &writing(ARTIFACT, fixed)), Ok(()));
        let unchanged = TurnOutput { artifacts: Vec::new(), ..writing(ARTIFACT, json!({})) };
        assert_eq!(check_output(&app(), &unchanged), Ok(()));

        let migration = json!({"src/lib.rs": "fn fixed() {}", "migrations/x.sql": "DROP TABLE t;"});
        assert!(
            check_output(&app(), &writing(ARTIFACT, migration)).unwrap_err().contains("`migrations/x.sql`")
        );
        let escape = json!({"../evil": "x"});
        assert!(check_output(&app(), &writing(ARTIFACT, escape)).unwrap_err().contains("`../evil`"));
        let rewritten = json!({"migrations/0001_initial.sql": "DROP TABLE t;"});
        assert!(
            check_output(&app(), &writing(ARTIFACT, rewritten)).is_err(),
            "an existing migration is the platform's"
        );
        let spec = writing("spec", json!({}));
        assert!(check_output(&app(), &spec).unwrap_err().contains("only the `code` artifact"));
    }

    #[test]
    fn long_errors_are_cut_at_a_character_boundary() {
        assert_eq!(head("abc", 5), "abc");
        assert_eq!(head("aé", 2), "a");
    }
}
