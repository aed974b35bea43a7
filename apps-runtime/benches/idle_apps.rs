//! Resident memory of deployed, idle apps: each app holds a compiled component and its
//! pre-instantiation (no instance, no pool slot). Every app gets its own artifact file (a copy of
//! the hello-world artifact under a distinct digest, as distinct components would have), so
//! nothing is shared between apps but the engine.
//!
//! Run: `cargo bench -p vibe-apps-runtime --bench idle_apps` (results in BENCHMARKS.md).

use std::time::Instant;

use sha2::{Digest, Sha256};
use uuid::Uuid;
use vibe_apps_runtime::{Capabilities, ComponentSource, Limits, LoadedApp, Runtime, RuntimeConfig};
use vibe_test_components::HELLO_STD;

/// The `Rss*` lines of /proc/self/status, to tell anonymous memory from mapped files.
fn resident_breakdown() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|line| line.starts_with("Rss"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cache = tempfile::tempdir().expect("temporary directory");
    let runtime = Runtime::new(RuntimeConfig::new(cache.path())).expect("runtime");
    let load = |digest: Option<String>, source: ComponentSource| {
        let runtime = runtime.clone();
        async move {
            runtime
                .load(Uuid::new_v4(), digest.as_deref(), source, Limits::default(), Capabilities::isolated())
                .await
                .expect("loads")
        }
    };
    let template = executor.block_on(load(None, ComponentSource::File(HELLO_STD.into())));
    let artifact = runtime.artifact_path(template.digest()).expect("a digest");
    drop(template);
    let artifact_size = std::fs::metadata(&artifact).map_or(0, |meta| meta.len());
    println!("artifact file: {artifact_size} bytes");

    let mut apps: Vec<LoadedApp> = Vec::new();
    let baseline = resident_bytes();
    let started = Instant::now();
    println!(
        "idle apps | resident (MiB) | above the empty runtime (MiB) | per app (KiB) | load time per app"
    );
    for target in [1_000usize, 10_000] {
        while apps.len() < target {
            let digest = hex::encode(Sha256::digest(apps.len().to_le_bytes()));
            std::fs::copy(&artifact, runtime.artifact_path(&digest).expect("a digest")).expect("copy");
            let source = ComponentSource::File("/not/needed.wasm".into());
            apps.push(executor.block_on(load(Some(digest), source)));
        }
        let resident = resident_bytes();
        let above = resident.saturating_sub(baseline);
        println!(
            "{target:>9} | {:>14.0} | {:>29.0} | {:>13.1} | {:?}",
            resident as f64 / f64::from(1 << 20),
            above as f64 / f64::from(1 << 20),
            above as f64 / 1024.0 / target as f64,
            started.elapsed() / u32::try_from(apps.len()).unwrap_or(u32::MAX),
        );
        println!("          ({})", resident_breakdown());
    }
}
