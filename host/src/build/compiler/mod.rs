//! The compiler stage: a generated app's files become a `wasm32-wasip2` component.
//!
//! The files go into the build workspace ([`super::workspace`]) under the platform's manifest, and
//! `cargo build --offline --release --target wasm32-wasip2` compiles them into a target directory
//! every app shares (one per build that may run at once), so that once the SDK is compiled there a
//! typical app builds in seconds.
//! Each build runs under a wall-clock limit and a memory limit (see [`process`]), and at most
//! [`CompilerSettings::concurrency`] builds run at once; the others wait their turn.
//!
//! Cargo runs with a cleared environment: only what finds the toolchain and the dependency cache
//! (`PATH`, `HOME`, `CARGO_HOME`, `RUSTUP_*`) passes, so the host's `RUSTFLAGS`, `CARGO_*`
//! settings or wrappers (a test run's, a developer's shell's) never change how an app is built.

mod diagnostics;
mod process;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use tokio::process::Command;
use tokio::sync::Semaphore;

pub use diagnostics::Diagnostic;

use self::diagnostics::BuildOutput;
use self::process::{Ended, RunLimits};
use super::codegen::GeneratedApp;
use super::workspace::{self, Workspace};
use crate::config::ServeConfig;

/// The target generated apps are compiled for.
pub const TARGET: &str = "wasm32-wasip2";

/// Variables passed on to cargo; everything else is cleared.
const PASSED_ENV: [&str; 5] = ["PATH", "HOME", "USER", "CARGO_HOME", "TMPDIR"];

/// The build limits, part of `vibe serve`'s configuration.
#[derive(Clone, Debug, Args)]
pub struct BuildConfig {
    /// Wall-clock seconds a build may take before it is stopped.
    #[arg(long, env = "VIBE_BUILD_TIMEOUT_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub build_timeout_secs: u64,
    /// Memory a build (cargo and every process it starts) may use, in MB.
    #[arg(long, env = "VIBE_BUILD_MEMORY_MB", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(64..))]
    pub build_memory_mb: u64,
    /// Builds that compile at once, each in a target directory of its own (where the SDK compiles
    /// once); more wait their turn.
    #[arg(long, env = "VIBE_BUILD_CONCURRENCY", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub build_concurrency: u64,
    /// With an LLM configured: compile-and-test attempts per build, the first included; after each
    /// failed one the build agent gets the errors and may change the code.
    #[arg(long, env = "VIBE_BUILD_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub build_attempts: u32,
    /// With an LLM configured: the most credits the build agent's repairs may spend per build.
    #[arg(long, env = "VIBE_BUILD_REPAIR_CREDITS", default_value_t = 50)]
    pub build_repair_credits: i64,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            build_timeout_secs: 300,
            build_memory_mb: 4096,
            build_concurrency: 1,
            build_attempts: 3,
            build_repair_credits: 50,
        }
    }
}

/// Everything the compiler is configured with.
#[derive(Clone, Debug)]
pub struct CompilerSettings {
    /// The build workspace (`<data_dir>/build`).
    pub build_dir: PathBuf,
    /// How long one build may take.
    pub timeout: Duration,
    /// How much memory one build may use, in bytes.
    pub memory_bytes: u64,
    /// How many builds run at once.
    pub concurrency: usize,
    /// The cargo to run (`cargo`, found on `PATH`).
    pub cargo: PathBuf,
}

impl CompilerSettings {
    /// The settings of `vibe serve`: the workspace under its data directory, its build limits.
    pub fn from_config(config: &ServeConfig) -> CompilerSettings {
        CompilerSettings::new(&config.data_dir, &config.build)
    }

    /// The workspace under `data_dir`, with `limits`.
    pub fn new(data_dir: &Path, limits: &BuildConfig) -> CompilerSettings {
        CompilerSettings {
            build_dir: data_dir.join("build"),
            timeout: Duration::from_secs(limits.build_timeout_secs),
            memory_bytes: limits.build_memory_mb.saturating_mul(1 << 20),
            concurrency: usize::try_from(limits.build_concurrency).unwrap_or(1).max(1),
            cargo: PathBuf::from("cargo"),
        }
    }
}

/// A compiled app.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The component's bytes.
    pub component: Vec<u8>,
    /// How long cargo ran (not counting the wait for a turn).
    pub duration: Duration,
    /// The compiler's warnings about the app's code, as rustc prints them.
    pub warnings: Vec<String>,
}

/// Why an app did not compile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// The files or the crate key cannot be built: a path outside `src/**.rs` and
    /// `migrations/*.sql`, too many or too large files.
    #[error("refused: {0}")]
    Refused(String),
    /// The code does not compile; the errors, each with its place.
    #[error("the app does not compile: {summary}")]
    Failed { diagnostics: Vec<Diagnostic>, summary: String },
    /// The build took longer than its limit and was stopped.
    #[error("the build took longer than {} s and was stopped", .0.as_secs())]
    TimedOut(Duration),
    /// The build used more memory than its limit (this many bytes) and was stopped.
    #[error("the build used more than its memory limit ({} MB) and was stopped", .0 >> 20)]
    OutOfMemory(u64),
    /// The platform cannot build anything: cargo or the target is missing, or the dependency
    /// cache lacks what the SDK needs.
    #[error("the build toolchain is not ready: {0}")]
    Toolchain(String),
    /// The build workspace could not be written or read (disk full, permissions).
    #[error("the build workspace: {0}")]
    Workspace(String),
}

/// Compiles generated apps; cheap to clone, clones share the limits.
#[derive(Clone, Debug)]
pub struct Compiler {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: CompilerSettings,
    workspace: Workspace,
    turns: Semaphore,
    /// The free target directories, one per build that may run at once: cargo locks its target
    /// directory for a whole build, so builds sharing one would wait on each other anyway. Each
    /// compiles the SDK once, then serves every app.
    slots: Mutex<Vec<usize>>,
    /// One lock per crate: two builds of the same crate would write over each other's files.
    crates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Compiler {
    /// A compiler with `settings`; nothing is written until the first compile.
    pub fn new(settings: CompilerSettings) -> Compiler {
        let workspace = Workspace::new(&settings.build_dir);
        let concurrency = settings.concurrency.max(1);
        let turns = Semaphore::new(concurrency);
        let slots = Mutex::new((0..concurrency).rev().collect());
        Compiler { inner: Arc::new(Inner { settings, workspace, turns, slots, crates: Mutex::default() }) }
    }

    /// The build workspace.
    pub fn workspace(&self) -> &Workspace {
        &self.inner.workspace
    }

    /// Compiles `app` as crate `crate_key` (one per app: a later version of the same app reuses
    /// the crate's compiled state) to a component. Waits for a turn when
    /// [`CompilerSettings::concurrency`] builds are already running.
    #[tracing::instrument(skip_all, fields(crate_key = %crate_key), err(Display))]
    pub async fn compile(&self, crate_key: &str, app: &GeneratedApp) -> Result<Compiled, CompileError> {
        workspace::check_app(crate_key, app).map_err(CompileError::Refused)?;
        let crate_lock = self.crate_lock(crate_key);
        let result = {
            let _crate = crate_lock.lock().await;
            let _turn = self.inner.turns.acquire().await.expect("the semaphore is never closed");
            let slot = Slot::take(&self.inner.slots);
            self.compile_now(crate_key, app, slot.index).await
        };
        self.release_crate_lock(crate_key, crate_lock);
        result
    }

    async fn compile_now(
        &self,
        crate_key: &str,
        app: &GeneratedApp,
        slot: usize,
    ) -> Result<Compiled, CompileError> {
        let workspace = self.inner.workspace.clone();
        let (key, files) = (crate_key.to_owned(), app.clone());
        let krate = tokio::task::spawn_blocking(move || {
            workspace.write_sdk()?;
            let mut krate = workspace.write_app(&key, &files)?;
            // Cargo reports manifests by their canonical path; so must we, to recognise ours.
            krate.dir = krate.dir.canonicalize()?;
            Ok::<_, std::io::Error>(krate)
        })
        .await
        .map_err(|error| CompileError::Workspace(error.to_string()))?
        .map_err(|error| CompileError::Workspace(error.to_string()))?;

        let settings = &self.inner.settings;
        let manifest = krate.dir.join("Cargo.toml");
        let mut command = Command::new(&settings.cargo);
        command
            .current_dir(&krate.dir)
            .args([
                "build",
                "--offline",
                "--release",
                "--target",
                TARGET,
                "--message-format=json",
                "--manifest-path",
            ])
            .arg(&manifest)
            .env_clear()
            .envs(std::env::vars_os().filter(|(name, _)| {
                name.to_str().is_some_and(|name| PASSED_ENV.contains(&name) || name.starts_with("RUSTUP_"))
            }))
            .env("CARGO_TARGET_DIR", self.inner.workspace.target_dir(slot))
            .env("CARGO_TERM_COLOR", "never")
            // Empty values override what a cargo config file of the user might set.
            .env("CARGO_ENCODED_RUSTFLAGS", "")
            .env("RUSTC_WRAPPER", "")
            .env("RUSTC_WORKSPACE_WRAPPER", "");

        let output = Arc::new(Mutex::new(BuildOutput::new(manifest)));
        let reader = output.clone();
        let limits = RunLimits { timeout: settings.timeout, memory_bytes: settings.memory_bytes };
        let started = Instant::now();
        let ran = process::run(command, limits, move |line| lock(&reader).read_line(line)).await;
        let duration = started.elapsed();
        let (ended, stderr) = ran.map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => CompileError::Toolchain(format!(
                "cargo was not found ({}); install Rust with rustup (https://rustup.rs) and run `rustup target add {TARGET}`",
                settings.cargo.display()
            )),
            _ => CompileError::Toolchain(format!("cargo could not be started: {error}")),
        })?;
        let output = std::mem::take(&mut *lock(&output));

        match ended {
            Ended::TimedOut => return Err(CompileError::TimedOut(settings.timeout)),
            Ended::OutOfMemory(used) => {
                tracing::info!(used, limit = settings.memory_bytes, "a build ran out of memory");
                return Err(CompileError::OutOfMemory(settings.memory_bytes));
            }
            Ended::Exited(status) if !status.success() => return Err(failure(output, &stderr, &krate.dir)),
            Ended::Exited(_) => {}
        }
        let component_path = output.component.clone().unwrap_or_else(|| {
            self.inner
                .workspace
                .target_dir(slot)
                .join(TARGET)
                .join("release")
                .join(format!("{}.wasm", krate.lib_name))
        });
        let component = tokio::fs::read(&component_path).await.map_err(|error| {
            CompileError::Workspace(format!("reading {}: {error}", component_path.display()))
        })?;
        tracing::info!(seconds = duration.as_secs_f64(), bytes = component.len(), "compiled");
        Ok(Compiled { component, duration, warnings: output.warnings })
    }

    fn crate_lock(&self, crate_key: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.inner.crates).entry(crate_key.replace('_', "-")).or_default().clone()
    }

    /// Forgets a crate's lock when no other build holds or waits for it.
    fn release_crate_lock(&self, crate_key: &str, crate_lock: Arc<tokio::sync::Mutex<()>>) {
        let mut crates = lock(&self.inner.crates);
        // Ours and the map's: nobody else can take a new one while we hold the map.
        if Arc::strong_count(&crate_lock) == 2 {
            crates.remove(&crate_key.replace('_', "-"));
        }
    }
}

/// A target directory taken for one build, given back when dropped (also when the build's future
/// is dropped).
struct Slot<'a> {
    free: &'a Mutex<Vec<usize>>,
    index: usize,
}

impl<'a> Slot<'a> {
    /// A free slot; there is one for every turn of the semaphore, so one is free to a turn holder.
    fn take(free: &'a Mutex<Vec<usize>>) -> Slot<'a> {
        let index = lock(free).pop().expect("a turn holder finds a free target directory");
        Slot { free, index }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        lock(self.free).push(self.index);
    }
}

/// Why a build whose cargo failed failed: the app's errors, else a toolchain problem, else what
/// cargo said.
fn failure(output: BuildOutput, stderr: &str, crate_dir: &Path) -> CompileError {
    if output.target_missing {
        return CompileError::Toolchain(format!(
            "the {TARGET} target is not installed: run `rustup target add {TARGET}`"
        ));
    }
    if !output.errors.is_empty() {
        let summary = output.summary();
        return CompileError::Failed { diagnostics: output.errors, summary };
    }
    if stderr.contains("--offline") || stderr.contains("offline mode") {
        return CompileError::Toolchain(format!(
            "the dependency cache lacks crates the SDK needs (builds are offline): run `cargo fetch --manifest-path {}` once with network access",
            crate_dir.join("Cargo.toml").display()
        ));
    }
    let said = match output.dependency_errors.first() {
        Some(error) => error.clone(),
        None => stderr
            .lines()
            .filter(|line| !line.trim_start().starts_with("Compiling"))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let summary = said.trim().chars().take(4000).collect::<String>();
    CompileError::Failed { diagnostics: Vec::new(), summary }
}

/// The lock's value even if a panicking holder poisoned it (the data are plain values).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
