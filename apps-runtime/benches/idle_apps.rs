//! Resident memory of deployed, idle apps. Every app gets its own artifact file (a copy of the
//! hello-world artifact under a distinct digest, as distinct components would have), so nothing is
//! shared between apps but the engine.
//!
//! Apps are registered as the host registers deployed apps ([`Runtime::register`]: a
//! [`LazyApp`], whose component is loaded on its first request). For 1,000 and then 10,000 apps
//! it reports the resident memory with none of them loaded (idle apps as the host keeps them);
//! then the first request of the first `IDLE_APPS_FIRST_REQUESTS` apps (default 200: a load from
//! the artifact cache and one request, timed); then every app loaded (what an eager host held, the
//! earlier figure); then every app unloaded again ([`LazyApp::unload_if_idle`], as the host does
//! after its idle time).
//!
//! Run: `cargo bench -p vibe-apps-runtime --bench idle_apps` (results in BENCHMARKS.md).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use vibe_apps_runtime::{Capabilities, ComponentSource, LazyApp, Limits, Runtime, RuntimeConfig};
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

fn report(what: &str, apps: usize, baseline: u64) {
    let resident = resident_bytes();
    let above = resident.saturating_sub(baseline);
    println!(
        "{apps:>9} | {what:<28} | {:>14.0} | {:>29.1} | {:>13.2}",
        resident as f64 / f64::from(1 << 20),
        above as f64 / f64::from(1 << 20),
        above as f64 / 1024.0 / apps as f64,
    );
    println!("          ({})", resident_breakdown());
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn main() {
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let first_requests: usize =
        std::env::var("IDLE_APPS_FIRST_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let cache = tempfile::tempdir().expect("temporary directory");
    let runtime = Runtime::new(RuntimeConfig::new(cache.path())).expect("runtime");
    let template = executor
        .block_on(runtime.load(
            Uuid::new_v4(),
            None,
            ComponentSource::File(HELLO_STD.into()),
            Limits::default(),
            Capabilities::isolated(),
        ))
        .expect("loads");
    let artifact = runtime.artifact_path(template.digest()).expect("a digest");
    drop(template);
    let artifact_size = std::fs::metadata(&artifact).map_or(0, |meta| meta.len());
    println!("artifact file: {artifact_size} bytes");

    let mut apps: Vec<LazyApp> = Vec::new();
    let baseline = resident_bytes();
    let started = Instant::now();
    println!(
        "     apps | state                        | resident (MiB) | above the empty runtime (MiB) | per app (KiB)"
    );
    for target in [1_000usize, 10_000] {
        while apps.len() < target {
            let digest = hex::encode(Sha256::digest(apps.len().to_le_bytes()));
            std::fs::copy(&artifact, runtime.artifact_path(&digest).expect("a digest")).expect("copy");
            let source = ComponentSource::File("/not/needed.wasm".into());
            let app = runtime
                .register(Uuid::new_v4(), &digest, source, Limits::default(), Capabilities::isolated())
                .expect("registers");
            apps.push(app);
        }
        report("registered, none loaded", target, baseline);
    }
    println!(
        "registering (artifact copy included): {:?} per app",
        started.elapsed() / u32::try_from(apps.len()).unwrap_or(u32::MAX)
    );

    let mut firsts = Vec::with_capacity(first_requests);
    for app in apps.iter().take(first_requests) {
        let request = http::Request::get("http://bench.test/")
            .header(http::header::HOST, "bench.test")
            .body(Full::new(Bytes::new()))
            .expect("a request");
        let started = Instant::now();
        let response = executor.block_on(app.handle(request));
        firsts.push(started.elapsed());
        assert_eq!(response.status(), 200, "the app answers");
    }
    firsts.sort_unstable();
    println!(
        "first request of a registered app (load from the artifact cache + the request), n = {}: \
         p50 {:?}, p99 {:?}, max {:?}",
        firsts.len(),
        percentile(&firsts, 0.5),
        percentile(&firsts, 0.99),
        firsts.last().copied().unwrap_or_default()
    );
    report(&format!("{} loaded", firsts.len()), apps.len(), baseline);

    let started = Instant::now();
    for app in &apps {
        executor.block_on(app.get()).expect("loads");
    }
    println!("loading every app: {:?} per app", started.elapsed() / u32::try_from(apps.len()).unwrap_or(1));
    report("all loaded", apps.len(), baseline);

    let unloaded = apps.iter().filter(|app| app.unload_if_idle(Duration::ZERO)).count();
    assert_eq!(unloaded, apps.len(), "every app was loaded and idle");
    report("all unloaded again", apps.len(), baseline);
}
