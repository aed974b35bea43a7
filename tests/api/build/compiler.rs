//! The compiler stage with real cargo: the SDK's guestbook example, handed over as generated files,
//! becomes a component the apps runtime loads; code errors name their file and line; files outside
//! `src/` and `migrations/` are refused; the time, memory and concurrency limits hold.
//!
//! The builds that should succeed share one build workspace under the target directory, so the SDK
//! compiles once (the first run's first build) and later builds show the warm times.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use uuid::Uuid;
use vibe_apps_runtime::{Capabilities, ComponentSource, Limits, PoolConfig, Runtime, RuntimeConfig};
use vibe_host::build::codegen::GeneratedApp;
use vibe_host::build::compiler::{BuildConfig, CompileError, Compiler, CompilerSettings};

/// The guestbook example's `src/` and `migrations/` files, as the code generator would hand them over.
fn guestbook() -> GeneratedApp {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/examples/guestbook");
    let mut files = BTreeMap::new();
    for folder in ["src", "migrations"] {
        for entry in std::fs::read_dir(root.join(folder)).expect("the guestbook example exists") {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().and_then(|name| name.to_str()).expect("a UTF-8 name");
            files.insert(format!("{folder}/{name}"), std::fs::read_to_string(&path).expect("a text file"));
        }
    }
    GeneratedApp { files }
}

/// Settings on a build workspace under `data_dir`, at the default limits but for `concurrency`.
fn settings(data_dir: &Path, concurrency: u64) -> CompilerSettings {
    CompilerSettings::new(data_dir, &BuildConfig { build_concurrency: concurrency, ..BuildConfig::default() })
}

/// The build workspace the successful builds share.
fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("compiler-tests")
}

/// The running processes whose command line mentions `path`.
fn processes_mentioning(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            entry.file_name().to_str()?.parse::<u32>().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(&needle).then_some(cmdline)
        })
        .collect()
}

#[tokio::test]
async fn the_guestbook_compiles_to_a_component_the_runtime_loads_and_a_change_rebuilds() {
    let compiler = Compiler::new(settings(&shared_dir(), 1));
    let mut app = guestbook();
    let first = compiler.compile("guestbook", &app).await.expect("the guestbook compiles");
    eprintln!("first compile: {:.1} s, {} bytes", first.duration.as_secs_f64(), first.component.len());

    let cache = tempfile::tempdir().expect("a temporary directory");
    let mut config = RuntimeConfig::new(cache.path());
    config.pool = PoolConfig {
        component_instances: 8,
        core_instances: 64,
        memories: 8,
        tables: 32,
        stacks: 8,
        ..PoolConfig::default()
    };
    let runtime = Runtime::new(config).expect("the runtime starts");
    runtime
        .load(
            Uuid::new_v4(),
            None,
            ComponentSource::Bytes(first.component.clone()),
            Limits::default(),
            Capabilities::isolated(),
        )
        .await
        .expect("the runtime loads the compiled guestbook");

    // A new version of the app: one page's text changed.
    let pages = app.files.get_mut("src/pages.rs").expect("the guestbook has pages");
    let changed = pages.replacen("Sign", "Sign here", 1);
    assert_ne!(*pages, changed, "the page has text to change");
    *pages = changed;
    let second = compiler.compile("guestbook", &app).await.expect("the changed guestbook compiles");
    eprintln!("second compile (one file changed): {:.1} s", second.duration.as_secs_f64());
    assert_ne!(first.component, second.component, "the change is in the new component");
}

#[tokio::test]
async fn code_that_does_not_compile_fails_naming_the_file_and_line() {
    let compiler = Compiler::new(settings(&shared_dir(), 1));
    let mut app = guestbook();
    let lib = app.files.get_mut("src/lib.rs").expect("the guestbook has a lib.rs");
    lib.push_str("\nfn broken() -> u32 {\n    \"not a number\"\n}\n");
    let line = u32::try_from(lib.lines().count()).expect("a small file") - 1;

    match compiler.compile("broken", &app).await {
        Err(CompileError::Failed { diagnostics, summary }) => {
            let error = diagnostics
                .iter()
                .find(|diagnostic| {
                    diagnostic.file.as_deref() == Some("src/lib.rs") && diagnostic.line == Some(line)
                })
                .unwrap_or_else(|| panic!("no error at src/lib.rs:{line} in {diagnostics:#?}"));
            assert_eq!(error.message, "mismatched types");
            assert!(
                error.rendered.contains("not a number"),
                "the rendered error quotes the code: {}",
                error.rendered
            );
            assert!(summary.contains(&format!("src/lib.rs:{line}")), "{summary}");
        }
        other => panic!("expected the build to fail, got {other:?}"),
    }
}

#[tokio::test]
async fn files_outside_sources_and_migrations_are_refused_and_a_missing_cargo_is_a_toolchain_error() {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let compiler = Compiler::new(settings(data_dir.path(), 1));
    for path in ["build.rs", "Cargo.toml", "src/../build.rs", "/etc/passwd", "migrations/x/0002.sql"] {
        let mut app = guestbook();
        app.files.insert(path.to_owned(), "fn main() {}".to_owned());
        match compiler.compile("guestbook", &app).await {
            Err(CompileError::Refused(reason)) => assert!(reason.contains(path), "{reason}"),
            other => panic!("{path}: expected a refusal, got {other:?}"),
        }
    }
    assert!(!data_dir.path().join("build/apps").exists(), "nothing was written for refused files");

    let mut settings = settings(data_dir.path(), 1);
    settings.cargo = PathBuf::from("/nonexistent/cargo");
    match Compiler::new(settings).compile("guestbook", &guestbook()).await {
        Err(CompileError::Toolchain(message)) => assert!(message.contains("rustup"), "{message}"),
        other => panic!("expected a toolchain error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_build_over_its_time_limit_is_stopped_with_all_its_processes() {
    // A workspace of its own: the cold SDK build takes far longer than the limit.
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let mut settings = settings(data_dir.path(), 1);
    settings.timeout = Duration::from_secs(3);
    let started = Instant::now();
    match Compiler::new(settings).compile("slow", &guestbook()).await {
        Err(CompileError::TimedOut(limit)) => assert_eq!(limit, Duration::from_secs(3)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "stopped soon after the limit: {:?}",
        started.elapsed()
    );
    let left = processes_mentioning(data_dir.path());
    assert!(left.is_empty(), "processes of the stopped build are still running: {left:#?}");
}

#[tokio::test]
async fn a_build_over_its_memory_limit_is_stopped() {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let mut settings = settings(data_dir.path(), 1);
    settings.memory_bytes = 1 << 20;
    match Compiler::new(settings).compile("greedy", &guestbook()).await {
        Err(CompileError::OutOfMemory(limit)) => assert_eq!(limit, 1 << 20),
        other => panic!("expected the build to run out of memory, got {other:?}"),
    }
    let left = processes_mentioning(data_dir.path());
    assert!(left.is_empty(), "processes of the stopped build are still running: {left:#?}");
}

#[tokio::test]
async fn builds_beyond_the_concurrency_limit_wait_their_turn() {
    let compiler = Compiler::new(settings(&shared_dir(), 1));
    let app = guestbook();
    let started = Instant::now();
    let (first, second) = tokio::join!(compiler.compile("turn-a", &app), compiler.compile("turn-b", &app));
    let wall = started.elapsed();
    let (first, second) = (first.expect("the first compiles"), second.expect("the second compiles"));
    // Each duration counts only its own cargo run: run one after the other, they add up to no more
    // than the time both took (run together, the two would overlap and add up to more).
    assert!(
        first.duration + second.duration <= wall,
        "{:?} + {:?} > {wall:?}: the builds overlapped",
        first.duration,
        second.duration
    );
}
