//! The `build` job: one build of an idea's confirmed spec, stage by stage: generating, compiling,
//! testing, deploying, live.
//!
//! A build is requested by [`start`] (the API), which holds the build's price and enqueues the job
//! in one go; the job runs the stages and records each in the build's row (its report) and as a
//! `build:progress` event. Only a green build deploys, and a deploy is one transaction
//! ([`crate::apps::AppsService::deploy`]), so whatever fails, the app's live version stays what it
//! was and the report says why. A build that fails costs nothing: its reservation is released.
//!
//! A worker that dies mid-build leaves the job to be claimed again; the build then runs from the
//! start, except that a version it already deployed (found by the build's id) is not deployed twice.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::codegen::{self, GeneratedApp, PreviousVersion};
use super::compiler::{CompileError, Compiled, Compiler, CompilerSettings};
use super::repo::Repos;
use super::{plan, repair, runner};
use crate::apps::deploy::{Migration, NewVersion};
use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::events::{Event, EventKind, bus};
use crate::jobs::{self, ClaimedJob, JobError, JobHandler, NewJob};
use crate::spec::{self as app_spec, model::AppSpec};
use crate::state::AppState;

/// The job kind.
pub const KIND: &str = "build";

/// The stages, in order, with the share of the whole each one ends at (for progress bars).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Generating,
    Compiling,
    Testing,
    Deploying,
    Live,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Generating => "generating",
            Stage::Compiling => "compiling",
            Stage::Testing => "testing",
            Stage::Deploying => "deploying",
            Stage::Live => "live",
        }
    }

    fn percent_done(self) -> u8 {
        match self {
            Stage::Generating => 10,
            Stage::Compiling => 60,
            Stage::Testing => 85,
            Stage::Deploying => 95,
            Stage::Live => 100,
        }
    }
}

/// What the build service keeps for every build: the compiler (its workspace and limits) and the
/// apps' repositories.
pub struct BuildService {
    pub compiler: Compiler,
    pub repos: Repos,
}

impl BuildService {
    /// The service `config` describes: the build workspace and repositories under its data directory.
    pub fn new(config: &ServeConfig) -> Self {
        BuildService {
            compiler: Compiler::new(CompilerSettings::from_config(config)),
            repos: Repos::new(config.data_dir.join("repos")),
        }
    }
}

/// A build as the job reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct BuildRow {
    id: Uuid,
    idea_id: Uuid,
    user_id: Uuid,
    app_id: Option<Uuid>,
    spec: Value,
    status: String,
    reservation_id: Option<Uuid>,
}

/// Why a build stopped: the stage and the reason, as the user reads it.
#[derive(Debug)]
struct Failure {
    stage: Stage,
    reason: String,
}

impl Failure {
    fn at(stage: Stage, reason: impl Into<String>) -> Self {
        Failure { stage, reason: reason.into() }
    }
}

/// Starts a build of idea `idea_id`'s confirmed spec for `user_id` (its owner): holds the build's
/// price, records the build and enqueues its job. Refused when the spec is not confirmed (409), a
/// build of the idea is already queued or running (409), or the credits do not cover it (402, with a
/// notification).
pub async fn start(state: &AppState, idea_id: Uuid, user_id: Uuid) -> Result<Uuid, ApiError> {
    let Some((spec_version, spec)) = app_spec::store::confirmed(&state.db, idea_id).await? else {
        return Err(ApiError::Conflict(
            "the idea has no confirmed spec: confirm the latest spec version first".to_owned(),
        ));
    };
    let build_id = Uuid::now_v7();
    // The hold lasts as long as the build may: every attempt at its time limit, and the tests.
    let limits = &state.config.build;
    let longest = std::time::Duration::from_secs(
        limits.build_timeout_secs.saturating_add(300).saturating_mul(u64::from(limits.build_attempts.max(1))),
    );
    // A refusal (no credits, spending paused) is the caller's error; the ledger notifies them.
    let reservation =
        state.ledger.reserve_build(user_id, build_id, Some(longest)).await.map_err(ApiError::from)?;
    let app_id: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM apps WHERE idea_id = $1 ORDER BY created_at LIMIT 1")
            .bind(idea_id)
            .fetch_optional(&state.db)
            .await?;
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO builds (id, idea_id, user_id, app_id, spec_version, spec, reservation_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(build_id)
    .bind(idea_id)
    .bind(user_id)
    .bind(app_id)
    .bind(i32::try_from(spec_version).unwrap_or(i32::MAX))
    .bind(&spec)
    .bind(reservation.id)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        drop(tx);
        let _ = state.ledger.release(reservation.id).await;
        return Err(ApiError::Conflict(
            "a build of this idea is already running; wait for it to end".to_owned(),
        ));
    }
    jobs::enqueue_in(
        &mut tx,
        &NewJob {
            kind: KIND,
            payload: json!({ "build_id": build_id }),
            idempotency_key: format!("build:{build_id}"),
            serial_key: Some(format!("build:{idea_id}")),
            max_attempts: 3,
        },
    )
    .await?;
    sqlx::query(
        "UPDATE ideas SET status = 'building', updated_at = now() WHERE id = $1 AND status <> 'live'",
    )
    .bind(idea_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(build_id)
}

async fn notify(db: &PgPool, user_id: Uuid, idea_id: Uuid, message: &str) {
    let event =
        Event::notification(user_id, json!({ "kind": "build", "idea_id": idea_id, "message": message }));
    if let Err(error) = bus::publish_with(db, &event).await {
        tracing::warn!(error = %error, "publishing a build notification failed");
    }
}

/// Runs `build` jobs.
pub struct BuildJobs {
    state: AppState,
}

impl BuildJobs {
    pub fn new(state: AppState) -> Self {
        BuildJobs { state }
    }
}

#[async_trait]
impl JobHandler for BuildJobs {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, job: &ClaimedJob) -> Result<(), JobError> {
        let build_id = build_id(job)?;
        let Some(build) = load(&self.state.db, build_id).await? else {
            let mut conn = self.state.db.acquire().await?;
            return jobs::queue::fail_in(&mut conn, job, "the build no longer exists").await;
        };
        if matches!(build.status.as_str(), "succeeded" | "failed") {
            let mut conn = self.state.db.acquire().await?;
            return jobs::queue::finish_in(&mut conn, job).await;
        }
        sqlx::query(
            "UPDATE builds SET status = 'running', started_at = COALESCE(started_at, now()) WHERE id = $1",
        )
        .bind(build_id)
        .execute(&self.state.db)
        .await?;
        let mut run = Run::new(&self.state, &build);
        let outcome = run.execute().await;
        run.finish(job, outcome).await
    }

    async fn give_up(&self, job: &ClaimedJob, reason: &str) -> Result<(), JobError> {
        let build_id = build_id(job)?;
        let Some(build) = load(&self.state.db, build_id).await? else {
            let mut conn = self.state.db.acquire().await?;
            return jobs::queue::fail_in(&mut conn, job, reason).await;
        };
        let run = Run::new(&self.state, &build);
        let failure = Failure::at(Stage::Generating, format!("the build could not run: {reason}"));
        run.finish(job, Err(failure)).await
    }
}

fn build_id(job: &ClaimedJob) -> Result<Uuid, JobError> {
    job.payload
        .get("build_id")
        .and_then(Value::as_str)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| JobError::Retry("the job names no build".to_owned()))
}

async fn load(db: &PgPool, build_id: Uuid) -> sqlx::Result<Option<BuildRow>> {
    sqlx::query_as(
        "SELECT id, idea_id, user_id, app_id, spec, status, reservation_id FROM builds WHERE id = $1",
    )
    .bind(build_id)
    .fetch_optional(db)
    .await
}

/// One stage as the report shows it.
#[derive(Debug, Clone, Serialize)]
struct StageRecord {
    stage: Stage,
    status: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    started_at: OffsetDateTime,
    duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// What a green build produced.
struct Deployed {
    app_id: Uuid,
    version: i32,
    commit: Option<String>,
}

/// One run of one build: the stages so far, written to the build's row as they change.
struct Run<'a> {
    state: &'a AppState,
    build: &'a BuildRow,
    stages: Vec<StageRecord>,
    current: Option<Instant>,
}

impl<'a> Run<'a> {
    fn new(state: &'a AppState, build: &'a BuildRow) -> Self {
        Run { state, build, stages: Vec::new(), current: None }
    }

    /// The stages in order; the first failure ends the build.
    async fn execute(&mut self) -> Result<Deployed, Failure> {
        let spec = app_spec::parse(&self.build.spec).map_err(|violations| {
            let first = violations.first().map(|v| format!("{}: {}", v.path, v.message)).unwrap_or_default();
            Failure::at(Stage::Generating, format!("the spec no longer validates ({first})"))
        })?;
        if let Some(deployed) = self.already_deployed().await? {
            return Ok(deployed);
        }

        self.enter(Stage::Generating, "writing the app's code from the spec").await;
        let previous = self.previous_version().await?;
        let generated = codegen::generate(&spec, previous.as_ref())
            .map_err(|error| Failure::at(Stage::Generating, format!("the spec cannot be built: {error}")))?;
        let test_plan = plan::derive(&spec);
        let lines: usize = generated.files.values().map(|file| file.lines().count()).sum();
        self.leave(format!("{} files, {lines} lines", generated.files.len())).await;

        let (generated, compiled) = self.compile_and_test(&spec, generated, &test_plan).await?;
        let migrations = generated.migrations();

        self.enter(Stage::Deploying, "applying the migrations and switching the live version").await;
        let deployed = self.deploy(&spec, &generated, compiled.component, migrations).await?;
        self.leave(format!("version {} is live", deployed.version)).await;
        self.enter(Stage::Live, "").await;
        self.leave(String::new()).await;
        Ok(deployed)
    }

    /// A version this build deployed on an earlier run (its worker died before the end).
    async fn already_deployed(&self) -> Result<Option<Deployed>, Failure> {
        let row: Option<(Uuid, i32)> =
            sqlx::query_as("SELECT app_id, number FROM app_versions WHERE build_id = $1")
                .bind(self.build.id)
                .fetch_optional(&self.state.db)
                .await
                .map_err(|error| Failure::at(Stage::Deploying, format!("database: {error}")))?;
        Ok(row.map(|(app_id, version)| Deployed { app_id, version, commit: None }))
    }

    /// The spec and migrations of the app's newest built version, when it has one: the schema is as
    /// that version's migrations left it, even when an older version is live after a rollback.
    async fn previous_version(&self) -> Result<Option<PreviousVersion>, Failure> {
        let Some(app_id) = self.build.app_id else { return Ok(None) };
        let row: Option<(Value, Value)> = sqlx::query_as(
            "SELECT b.spec, v.migrations FROM app_versions v JOIN builds b ON b.id = v.build_id \
             WHERE v.app_id = $1 ORDER BY v.number DESC LIMIT 1",
        )
        .bind(app_id)
        .fetch_optional(&self.state.db)
        .await
        .map_err(|error| Failure::at(Stage::Generating, format!("database: {error}")))?;
        let Some((spec, migrations)) = row else { return Ok(None) };
        let spec: AppSpec = app_spec::parse(&spec).map_err(|_| {
            Failure::at(Stage::Generating, "the newest version's spec no longer validates".to_owned())
        })?;
        let migrations = migrations
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|m| {
                        Some(Migration {
                            name: m.get("name")?.as_str()?.to_owned(),
                            sql: m.get("sql")?.as_str()?.to_owned(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(PreviousVersion { spec, migrations }))
    }

    /// Compiles and tests `generated`; with an LLM configured, a failed attempt's errors go to the
    /// build agent, whose changes are compiled and tested again, until the build is green or the
    /// attempts (`VIBE_BUILD_ATTEMPTS`) or the repair credits (`VIBE_BUILD_REPAIR_CREDITS`) run out.
    async fn compile_and_test(
        &mut self,
        spec: &AppSpec,
        mut generated: GeneratedApp,
        test_plan: &plan::TestPlan,
    ) -> Result<(GeneratedApp, Compiled), Failure> {
        let limits = &self.state.config.build;
        let repairing = repair::enabled(self.state);
        let attempts = if repairing { limits.build_attempts.max(1) } else { 1 };
        let outcome = 'attempts: {
            for number in 1..=attempts {
                let failure = match self.attempt(number, &generated, test_plan).await {
                    Ok(compiled) => break 'attempts Ok(compiled),
                    Err(failure) => failure,
                };
                if number == attempts {
                    let failure = if repairing {
                        Failure::at(failure.stage, format!("{} (after {number} attempts)", failure.reason))
                    } else {
                        failure
                    };
                    break 'attempts Err(failure);
                }
                let spent = repair::credits_consumed(self.state, self.build.idea_id).await.unwrap_or(0);
                if spent >= limits.build_repair_credits {
                    break 'attempts Err(Failure::at(
                        failure.stage,
                        format!(
                            "{} (the repair budget of {} credits is spent)",
                            failure.reason, limits.build_repair_credits
                        ),
                    ));
                }
                self.enter(
                    Stage::Compiling,
                    &format!("attempt {number} failed; the build agent is fixing it"),
                )
                .await;
                let spec_json = serde_json::to_value(spec).unwrap_or(Value::Null);
                match repair::repair(
                    self.state,
                    self.build.idea_id,
                    self.build.user_id,
                    &spec_json,
                    &generated,
                    &failure.reason,
                )
                .await
                {
                    Ok(Some(changed)) => {
                        self.leave("the build agent changed the code".to_owned()).await;
                        generated = changed;
                    }
                    Ok(None) => {
                        break 'attempts Err(Failure::at(
                            failure.stage,
                            format!("{} (the build agent changed nothing)", failure.reason),
                        ));
                    }
                    Err(error) => {
                        break 'attempts Err(Failure::at(
                            failure.stage,
                            format!("{} (the build agent could not fix it: {error})", failure.reason),
                        ));
                    }
                }
            }
            unreachable!("the last attempt always ends the loop")
        };
        if repairing {
            let _ = repair::finish(self.state, self.build.idea_id).await;
        }
        outcome.map(|compiled| (generated, compiled))
    }

    /// One compile-and-test attempt, recorded in the build's `attempts`.
    async fn attempt(
        &mut self,
        number: u32,
        generated: &GeneratedApp,
        test_plan: &plan::TestPlan,
    ) -> Result<Compiled, Failure> {
        let started = Instant::now();
        let outcome = self.compile_once(generated).await;
        let outcome = match outcome {
            Ok(compiled) => self.test(&compiled, generated, test_plan).await.map(|()| compiled),
            Err(failure) => Err(failure),
        };
        let attempt = json!([{
            "number": number,
            "ok": outcome.is_ok(),
            "duration_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "error": outcome.as_ref().err().map(|failure| failure.reason.clone()),
        }]);
        if let Err(error) = sqlx::query("UPDATE builds SET attempts = attempts || $2 WHERE id = $1")
            .bind(self.build.id)
            .bind(attempt)
            .execute(&self.state.db)
            .await
        {
            tracing::warn!(error = %error, "recording a build attempt failed");
        }
        outcome
    }

    async fn compile_once(&mut self, generated: &GeneratedApp) -> Result<Compiled, Failure> {
        self.enter(Stage::Compiling, "cargo build --release --target wasm32-wasip2").await;
        let crate_key = format!("app_{}", self.build.idea_id.simple());
        let compiled = self
            .state
            .builds
            .compiler
            .compile(&crate_key, generated)
            .await
            .map_err(|error| Failure::at(Stage::Compiling, compile_error_text(&error)))?;
        self.leave(format!(
            "{} KiB in {:.1} s",
            compiled.component.len() / 1024,
            compiled.duration.as_secs_f64()
        ))
        .await;
        Ok(compiled)
    }

    async fn test(
        &mut self,
        compiled: &Compiled,
        generated: &GeneratedApp,
        test_plan: &plan::TestPlan,
    ) -> Result<(), Failure> {
        self.enter(Stage::Testing, &format!("{} tests derived from the spec", test_plan.cases.len())).await;
        let migrations = generated.migrations();
        let report = runner::run(&self.state.apps, &compiled.component, &migrations, test_plan)
            .await
            .map_err(|error| Failure::at(Stage::Testing, format!("the tests could not run: {error:#}")))?;
        self.record_tests(&report).await;
        if !report.is_green() {
            let failed: Vec<String> = report
                .cases
                .iter()
                .filter(|case| !case.passed)
                .take(5)
                .map(|case| format!("{}: {}", case.name, case.failure.as_deref().unwrap_or("failed")))
                .collect();
            return Err(Failure::at(
                Stage::Testing,
                format!(
                    "{} of {} tests failed: {}",
                    report.failed,
                    report.passed + report.failed,
                    failed.join("; ")
                ),
            ));
        }
        self.leave(format!("{} tests passed", report.passed)).await;
        Ok(())
    }

    async fn record_tests(&self, report: &plan::TestReport) {
        let report = serde_json::to_value(report).unwrap_or(Value::Null);
        if let Err(error) = sqlx::query("UPDATE builds SET test_report = $2 WHERE id = $1")
            .bind(self.build.id)
            .bind(report)
            .execute(&self.state.db)
            .await
        {
            tracing::warn!(error = %error, "recording a build's test report failed");
        }
    }

    /// Creates the app on the idea's first green build, deploys the version, commits its code.
    async fn deploy(
        &self,
        spec: &AppSpec,
        generated: &GeneratedApp,
        component: Vec<u8>,
        migrations: Vec<Migration>,
    ) -> Result<Deployed, Failure> {
        let failed = |reason: String| Failure::at(Stage::Deploying, reason);
        let app_id = match self.build.app_id {
            Some(app_id) => app_id,
            None => self.create_app(spec).await.map_err(|error| failed(error.to_string()))?,
        };
        let new =
            NewVersion { component, migrations, config: Default::default(), build_id: Some(self.build.id) };
        let version = self.state.apps.deploy(app_id, new).await.map_err(|error| failed(error.to_string()))?;
        let message = format!(
            "Version {}: {}\n\nBuilt from spec by build {}.",
            version.number, spec.app.name, self.build.id
        );
        let commit = match self
            .state
            .builds
            .repos
            .commit_version(app_id, version.number, &generated.files, &message)
            .await
        {
            Ok(commit) => Some(commit),
            Err(error) => {
                // The version is live; its code is still in the build's report. Say so, don't fail.
                tracing::warn!(error = %format!("{error:#}"), %app_id, "committing an app's code failed");
                None
            }
        };
        Ok(Deployed { app_id, version: version.number, commit })
    }

    /// The app of the idea's first build: its slug from the spec, made unique when taken.
    async fn create_app(&self, spec: &AppSpec) -> Result<Uuid, ApiError> {
        let app_id = Uuid::now_v7();
        for attempt in 0..20 {
            let slug = if attempt == 0 {
                spec.app.slug.clone()
            } else {
                let suffix = format!("-{}", &Uuid::new_v4().simple().to_string()[..6]);
                let base: String = spec.app.slug.chars().take(63 - suffix.len()).collect();
                format!("{}{suffix}", base.trim_end_matches('-'))
            };
            let inserted = sqlx::query(
                "INSERT INTO apps (id, idea_id, user_id, slug, name) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (slug) DO NOTHING",
            )
            .bind(app_id)
            .bind(self.build.idea_id)
            .bind(self.build.user_id)
            .bind(&slug)
            .bind(&spec.app.name)
            .execute(&self.state.db)
            .await?;
            if inserted.rows_affected() == 1 {
                sqlx::query("UPDATE builds SET app_id = $2 WHERE id = $1")
                    .bind(self.build.id)
                    .bind(app_id)
                    .execute(&self.state.db)
                    .await?;
                return Ok(app_id);
            }
        }
        Err(ApiError::Conflict("no free address for the app".to_owned()))
    }

    /// Starts `stage`: recorded, announced.
    async fn enter(&mut self, stage: Stage, message: &str) {
        self.current = Some(Instant::now());
        let message = (!message.is_empty()).then(|| message.to_owned());
        self.stages.push(StageRecord {
            stage,
            status: "running",
            started_at: OffsetDateTime::now_utc(),
            duration_ms: None,
            message: message.clone(),
        });
        let percent = self.stages.len().checked_sub(2).map_or(0, |i| self.stages[i].stage.percent_done());
        self.progress(stage, "running", message.as_deref(), percent).await;
    }

    /// Ends the current stage well.
    async fn leave(&mut self, message: String) {
        let elapsed = self.current.take().map(|started| started.elapsed().as_millis() as u64);
        let Some(last) = self.stages.last_mut() else { return };
        last.status = "done";
        last.duration_ms = elapsed;
        if !message.is_empty() {
            last.message = Some(message.clone());
        }
        let stage = last.stage;
        self.progress(stage, "done", (!message.is_empty()).then_some(message.as_str()), stage.percent_done())
            .await;
    }

    /// Writes the stages to the build's row and publishes a `build:progress` event.
    async fn progress(&self, stage: Stage, status: &str, message: Option<&str>, percent: u8) {
        let stages = serde_json::to_value(&self.stages).unwrap_or(Value::Null);
        if let Err(error) = sqlx::query("UPDATE builds SET stage = $2, stages = $3 WHERE id = $1")
            .bind(self.build.id)
            .bind(stage.as_str())
            .bind(stages)
            .execute(&self.state.db)
            .await
        {
            tracing::warn!(error = %error, "recording a build's stage failed");
        }
        let mut data = json!({
            "build_id": self.build.id,
            "stage": stage.as_str(),
            "status": status,
            "percent": percent,
        });
        if let Some(message) = message {
            data["message"] = json!(message);
        }
        let event = Event {
            kind: EventKind::BuildProgress,
            idea_id: Some(self.build.idea_id),
            app_id: None,
            user_id: None,
            data,
        };
        if let Err(error) = bus::publish_with(&self.state.db, &event).await {
            tracing::warn!(error = %error, "publishing build progress failed");
        }
    }

    /// Records how the build ended, settles or releases its credits and ends the job, together.
    async fn finish(mut self, job: &ClaimedJob, outcome: Result<Deployed, Failure>) -> Result<(), JobError> {
        let ledger = &self.state.ledger;
        let charged = match (&outcome, self.build.reservation_id) {
            (Ok(_), Some(reservation)) => match ledger.settle(reservation, ledger.build_price()).await {
                Ok(settled) => settled.charged,
                Err(error) => {
                    tracing::warn!(error = %error, "settling a build's credits failed");
                    0
                }
            },
            (Err(_), Some(reservation)) => {
                if let Err(error) = ledger.release(reservation).await {
                    tracing::warn!(error = %error, "releasing a build's credits failed");
                }
                0
            }
            (_, None) => 0,
        };
        if let Err(failure) = &outcome
            && let Some(last) = self.stages.last_mut().filter(|last| last.status == "running")
        {
            last.status = "failed";
            last.message = Some(failure.reason.clone());
        }
        let stages = serde_json::to_value(&self.stages).unwrap_or(Value::Null);
        let mut tx = self.state.db.begin().await?;
        match &outcome {
            Ok(deployed) => {
                sqlx::query(
                    "UPDATE builds SET status = 'succeeded', stage = 'live', stages = $2, app_id = $3, \
                     version_number = $4, source_commit = $5, credits_charged = $6, finished_at = now() \
                     WHERE id = $1",
                )
                .bind(self.build.id)
                .bind(&stages)
                .bind(deployed.app_id)
                .bind(deployed.version)
                .bind(&deployed.commit)
                .bind(charged)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE ideas SET status = 'live', updated_at = now() WHERE id = $1")
                    .bind(self.build.idea_id)
                    .execute(&mut *tx)
                    .await?;
            }
            Err(failure) => {
                sqlx::query(
                    "UPDATE builds SET status = 'failed', stage = $2, stages = $3, error = $4, finished_at = now() \
                     WHERE id = $1",
                )
                .bind(self.build.id)
                .bind(failure.stage.as_str())
                .bind(&stages)
                .bind(&failure.reason)
                .execute(&mut *tx)
                .await?;
            }
        }
        let (status, message) = match &outcome {
            Ok(deployed) => ("done", format!("version {} is live", deployed.version)),
            Err(failure) => ("failed", failure.reason.clone()),
        };
        let stage = match &outcome {
            Ok(_) => Stage::Live,
            Err(failure) => failure.stage,
        };
        let event = Event {
            kind: EventKind::BuildProgress,
            idea_id: Some(self.build.idea_id),
            app_id: outcome.as_ref().ok().map(|deployed| deployed.app_id),
            user_id: None,
            data: json!({
                "build_id": self.build.id,
                "stage": stage.as_str(),
                "status": status,
                "message": message,
                "percent": if status == "done" { 100 } else { stage.percent_done() },
                "final": true,
            }),
        };
        bus::publish_in(&mut tx, &event).await?;
        jobs::queue::finish_in(&mut tx, job).await?;
        tx.commit().await?;
        if let Err(failure) = &outcome {
            notify(
                &self.state.db,
                self.build.user_id,
                self.build.idea_id,
                &format!("The build failed while {}: {}", failure.stage.as_str(), failure.reason),
            )
            .await;
        }
        Ok(())
    }
}

/// A compile error as the report shows it.
/// A compile error as the report shows it and the build agent reads it: for code that does not
/// compile, rustc's own words for each error (with the code they point at), up to 16 KiB.
fn compile_error_text(error: &CompileError) -> String {
    const MAX: usize = 16 * 1024;
    let CompileError::Failed { diagnostics, .. } = error else { return error.to_string() };
    let mut text = error.to_string();
    for diagnostic in diagnostics {
        if text.len() + diagnostic.rendered.len() + 1 > MAX {
            text.push_str("\n(more errors left out)");
            break;
        }
        text.push('\n');
        text.push_str(diagnostic.rendered.trim_end());
    }
    text
}

/// The job handlers of the build service, for the workers of `vibe serve`.
pub fn handlers(state: &AppState) -> Vec<Arc<dyn JobHandler>> {
    vec![Arc::new(BuildJobs::new(state.clone()))]
}
