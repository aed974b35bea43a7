//! The test runner: a [`TestPlan`] run against a built component inside the apps runtime, on a
//! throw-away schema, before anything of the app goes live.
//!
//! Each run is an app of its own that no live app shares: a fresh random app id, its role and
//! schema provisioned as a deploy provisions them, the version's migrations applied as that role
//! (exactly as a deploy applies them, so a migration that would fail at deploy fails here), and
//! the component loaded with that database, an in-memory key-value store (the platform's store is
//! keyed by a row in `apps`, which a throw-away app has not), no settings, an in-memory log (read
//! back to explain a failing step) and no outbound hosts. It is never registered in the live
//! table, so no visitor can reach it.
//!
//! The cases run in order and share what their steps capture; a failing step fails its case and
//! the next case runs. A failing test is a result (in the [`TestReport`]); an error is the run
//! itself going wrong (the database, a component that does not load, a migration that fails).
//! The whole run has a time limit besides the runtime's per-request deadline: when it runs out,
//! the step under way fails and the cases not reached are reported as failed, not run.
//!
//! The schema and role are dropped at the end whatever happened: on return, on error, and, through
//! a guard dropped with the run, when it panics or is cancelled.

mod steps;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use uuid::Uuid;
use vibe_apps_runtime::tenant::Tenancy;
use vibe_apps_runtime::{
    Capabilities, ComponentSource, KvLimits, LoadedApp, MemoryKv, MemoryLogSink, OutboundPolicy, StaticConfig,
};

pub use steps::identity_headers;

use crate::apps::AppsService;
use crate::apps::deploy::Migration;
use crate::build::plan::{CaseResult, TestCase, TestPlan, TestReport};
use steps::{Captures, StepFailure, Target};

/// How long a whole run may take, preparing the schema included, unless told otherwise.
pub const TIME_LIMIT: Duration = Duration::from_secs(120);
/// The log entries of a run kept to explain failures.
const LOG_ENTRIES: usize = 2_000;

/// Runs `plan` against `component` on a throw-away schema with `migrations` applied, within
/// [`TIME_LIMIT`]. See the module docs.
pub async fn run(
    apps: &AppsService,
    component: &[u8],
    migrations: &[Migration],
    plan: &TestPlan,
) -> anyhow::Result<TestReport> {
    run_within(apps, component, migrations, plan, TIME_LIMIT).await
}

/// [`run`] with a time limit of `limit`.
pub async fn run_within(
    apps: &AppsService,
    component: &[u8],
    migrations: &[Migration],
    plan: &TestPlan,
    limit: Duration,
) -> anyhow::Result<TestReport> {
    let deadline = tokio::time::Instant::now() + limit;
    let tenancy = apps.tenancy().await?;
    let mut scratch = Scratch { tenancy: tenancy.clone(), app_id: Uuid::new_v4(), dropped: false };
    let logs = Arc::new(MemoryLogSink::new(LOG_ENTRIES));
    let prepared =
        tokio::time::timeout_at(deadline, prepare(apps, &scratch, component, migrations, logs.clone())).await;
    let outcome = match prepared {
        Err(_) => Err(anyhow::anyhow!(
            "the test run's time limit ({} s) ran out while preparing its database and loading the app",
            limit.as_secs()
        )),
        Ok(Err(error)) => Err(error),
        Ok(Ok(app)) => {
            let target = Target { app: &app, logs: &logs };
            Ok(run_cases(&target, plan, deadline, limit).await)
        }
    };
    if let Err(error) = scratch.drop_now().await {
        // The report stands: the app was tested. The guard retries in the background.
        tracing::error!(app_id = %scratch.app_id, error = format!("{error:#}"), "cannot drop a test schema");
    }
    outcome
}

/// Provisions the throw-away app's schema and role, applies the migrations and loads the component.
async fn prepare(
    apps: &AppsService,
    scratch: &Scratch,
    component: &[u8],
    migrations: &[Migration],
    logs: Arc<MemoryLogSink>,
) -> anyhow::Result<LoadedApp> {
    let app_id = scratch.app_id;
    scratch.tenancy.provision(app_id).await.context("provisioning the test schema")?;
    crate::apps::migrations::apply(&scratch.tenancy, app_id, migrations)
        .await
        .context("applying the migrations to the test schema")?;
    let limits = apps.check_hosting_config(&json!({})).context("the default limits of an app")?;
    let capabilities = Capabilities {
        db: scratch.tenancy.app_db(app_id),
        kv: Arc::new(MemoryKv::new(KvLimits::default())),
        config: Arc::new(StaticConfig::default()),
        logs,
        outbound: OutboundPolicy::deny_all(),
    };
    let runtime = apps.runtime().await?;
    runtime
        .load(app_id, None, ComponentSource::Bytes(component.to_vec()), limits, capabilities)
        .await
        .context("loading the component")
}

/// Every case of `plan`, in order, sharing their captures; after the deadline, the rest are
/// reported as not run.
async fn run_cases(
    target: &Target<'_>,
    plan: &TestPlan,
    deadline: tokio::time::Instant,
    limit: Duration,
) -> TestReport {
    let mut captures = Captures::new();
    let mut report = TestReport::default();
    let mut out_of_time = false;
    for case in &plan.cases {
        let started = Instant::now();
        let failure = if out_of_time {
            Some(format!("not run: the test run's time limit ({} s) ran out before it", limit.as_secs()))
        } else {
            match run_case(target, case, &mut captures, deadline).await {
                Ok(()) => None,
                Err(StepFailure::Failed(why)) => Some(why),
                Err(StepFailure::OutOfTime(why)) => {
                    out_of_time = true;
                    Some(why)
                }
            }
        };
        if failure.is_some() {
            report.failed += 1;
        } else {
            report.passed += 1;
        }
        report.cases.push(CaseResult {
            name: case.name.clone(),
            passed: failure.is_none(),
            failure,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
    }
    report
}

/// The steps of `case` in order, up to the first that fails.
async fn run_case(
    target: &Target<'_>,
    case: &TestCase,
    captures: &mut Captures,
    deadline: tokio::time::Instant,
) -> Result<(), StepFailure> {
    for (index, step) in case.steps.iter().enumerate() {
        steps::run(target, index + 1, step, captures, deadline).await?;
    }
    Ok(())
}

/// The throw-away app's schema and role, dropped by [`Scratch::drop_now`] or, failing that, when
/// the guard is dropped (a panic, a cancelled run, a failed drop), in the background.
struct Scratch {
    tenancy: Tenancy,
    app_id: Uuid,
    dropped: bool,
}

impl Scratch {
    async fn drop_now(&mut self) -> anyhow::Result<()> {
        self.tenancy.deprovision(self.app_id).await.context("dropping the test schema and role")?;
        self.dropped = true;
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (tenancy, app_id) = (self.tenancy.clone(), self.app_id);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(error) = tenancy.deprovision(app_id).await {
                        tracing::error!(%app_id, %error, "cannot drop a test schema");
                    }
                });
            }
            Err(_) => tracing::error!(%app_id, "a test schema is left behind: no runtime to drop it"),
        }
    }
}
