//! How long the compiler stage takes to turn a generated app into a component (BENCHMARKS.md): the
//! SDK's guestbook example, handed over as generated files, compiled cold (a fresh build
//! workspace: the SDK and its dependencies compile too) and then warm (the same app with one page
//! changed each time, as a new version would be; the SDK is already compiled).
//!
//! Run: `cargo bench -p vibe-host --bench compile` (release profile). It needs the machine's cargo
//! with the `wasm32-wasip2` target and the SDK's dependencies in the registry cache (builds are
//! offline).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use vibe_host::build::codegen::GeneratedApp;
use vibe_host::build::compiler::{BuildConfig, Compiler, CompilerSettings};

const WARM_ROUNDS: usize = 5;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(measure())
}

async fn measure() -> anyhow::Result<()> {
    let data_dir = tempfile::tempdir()?;
    let compiler = Compiler::new(CompilerSettings::new(data_dir.path(), &BuildConfig::default()));
    let mut app = guestbook()?;

    let cold = compiler.compile("guestbook", &app).await?;
    println!("cold (SDK and dependencies included): {:.1} s", cold.duration.as_secs_f64());

    let original =
        app.files.get("src/pages.rs").cloned().ok_or_else(|| anyhow::anyhow!("no src/pages.rs"))?;
    let mut warm = Vec::new();
    for round in 0..WARM_ROUNDS {
        // Each round changes one file from the original, as an edit to the app would.
        let pages = format!("{original}\n// version {round}\npub const VERSION: u32 = {round};\n");
        app.files.insert("src/pages.rs".to_owned(), pages);
        warm.push(compiler.compile("guestbook", &app).await?.duration);
    }
    warm.sort();
    let seconds = |duration: Duration| format!("{:.2}", duration.as_secs_f64());
    println!(
        "warm (one file changed), {WARM_ROUNDS} rounds: min {} s, median {} s, max {} s",
        seconds(warm[0]),
        seconds(warm[WARM_ROUNDS / 2]),
        seconds(warm[WARM_ROUNDS - 1])
    );
    Ok(())
}

/// The guestbook example's `src/` and `migrations/` files.
fn guestbook() -> anyhow::Result<GeneratedApp> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/examples/guestbook");
    let mut files = BTreeMap::new();
    for folder in ["src", "migrations"] {
        for entry in std::fs::read_dir(root.join(folder))? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .ok_or_else(|| anyhow::anyhow!("a non-UTF-8 name"))?;
            files.insert(format!("{folder}/{name}"), std::fs::read_to_string(&path)?);
        }
    }
    Ok(GeneratedApp { files })
}
