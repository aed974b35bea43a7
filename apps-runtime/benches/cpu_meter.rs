//! Epoch interruption against fuel, the two ways to meter a request's CPU budget, on the same
//! runtime code and the same components: a hello-world request (what metering costs a typical
//! request) and a CPU-heavy one (what it costs a busy loop). Also reports the fuel a millisecond
//! of CPU burns, to calibrate `CpuMeter::Fuel`.
//!
//! Both runtimes live side by side and are measured in interleaved rounds, so that load from
//! elsewhere on the machine falls on both alike. Besides wall-clock figures, the process's CPU
//! time per request is reported (`CLOCK_PROCESS_CPUTIME_ID`): it is what metering costs, and it
//! is not inflated when other processes take the cores.
//!
//! The bench allows `unsafe` for one `clock_gettime` call.
//!
//! Run: `cargo bench -p vibe-apps-runtime --bench cpu_meter` (results in BENCHMARKS.md).

#![allow(unsafe_code)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use uuid::Uuid;
use vibe_apps_runtime::{
    Capabilities, ComponentSource, CpuMeter, Limits, LoadedApp, RequestStats, Runtime, RuntimeConfig,
};
use vibe_test_components::{COMPUTE, HELLO_STD};

const ROUNDS: usize = 10;
const HELLO_PER_ROUND: usize = 1_000;
const HEAVY_PER_ROUND: usize = 3;
const HEAVY_ROUNDS: u64 = 50_000_000;

struct Meter {
    name: &'static str,
    _runtime: Runtime,
    _cache: tempfile::TempDir,
    hello: LoadedApp,
    heavy: LoadedApp,
    hello_latencies: Vec<Duration>,
    hello_elapsed: Duration,
    hello_cpu: Duration,
    heavy_cpu: Duration,
    heavy_times: Vec<Duration>,
    heavy_fuel: Vec<u64>,
}

fn request(path: &str) -> http::Request<Full<Bytes>> {
    http::Request::builder()
        .uri(format!("http://bench.test{path}"))
        .header(http::header::HOST, "bench.test")
        .body(Full::new(Bytes::new()))
        .expect("a valid request")
}

async fn call(app: &LoadedApp, path: &str) -> (Duration, Option<u64>) {
    let started = Instant::now();
    let response = app.handle(request(path)).await;
    assert_eq!(response.status(), 200, "{path}");
    let fuel = response.extensions().get::<RequestStats>().and_then(|stats| stats.fuel);
    response.into_body().collect().await.expect("infallible");
    (started.elapsed(), fuel)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn meter(name: &'static str, cpu_meter: CpuMeter) -> Meter {
    let cache = tempfile::tempdir().expect("temporary directory");
    let mut config = RuntimeConfig::new(cache.path());
    config.cpu_meter = cpu_meter;
    let runtime = Runtime::new(config).expect("runtime");
    let limits = Limits { cpu_ms: 30_000, deadline_ms: 300_000, ..Limits::default() };
    let load = |path: &str| {
        runtime.load(
            Uuid::new_v4(),
            None,
            ComponentSource::File(path.into()),
            limits.clone(),
            Capabilities::isolated(),
        )
    };
    let hello = load(HELLO_STD).await.expect("hello loads");
    let heavy = load(COMPUTE).await.expect("compute loads");
    for _ in 0..500 {
        call(&hello, "/").await;
    }
    Meter {
        name,
        _runtime: runtime,
        _cache: cache,
        hello,
        heavy,
        hello_latencies: Vec::new(),
        hello_elapsed: Duration::ZERO,
        hello_cpu: Duration::ZERO,
        heavy_cpu: Duration::ZERO,
        heavy_times: Vec::new(),
        heavy_fuel: Vec::new(),
    }
}

/// CPU time used by this process so far (all threads).
fn process_cpu() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `clock_gettime` writes one `timespec` to the pointer, which is valid and owned.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

async fn round(meter: &mut Meter) {
    let (started, cpu) = (Instant::now(), process_cpu());
    for _ in 0..HELLO_PER_ROUND {
        let (latency, _) = call(&meter.hello, "/").await;
        meter.hello_latencies.push(latency);
    }
    meter.hello_elapsed += started.elapsed();
    meter.hello_cpu += process_cpu() - cpu;
    let heavy_path = format!("/?n={HEAVY_ROUNDS}");
    let cpu = process_cpu();
    for _ in 0..HEAVY_PER_ROUND {
        let (time, fuel) = call(&meter.heavy, &heavy_path).await;
        meter.heavy_times.push(time);
        meter.heavy_fuel.extend(fuel);
    }
    meter.heavy_cpu += process_cpu() - cpu;
}

fn main() {
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut meters = executor.block_on(async {
        vec![
            meter("epoch (1 ms tick)", CpuMeter::Epoch { tick: Duration::from_millis(1) }).await,
            meter("fuel", CpuMeter::Fuel { fuel_per_ms: 1_000_000, yield_interval: 100_000 }).await,
        ]
    });
    for _ in 0..ROUNDS {
        for meter in &mut meters {
            executor.block_on(round(meter));
        }
    }

    println!(
        "meter              | hello p50 | hello p99 | hello req/s (1 client) | hello CPU/req | compute {}M: min | p50 | CPU/req | fuel per ms",
        HEAVY_ROUNDS / 1_000_000
    );
    for meter in &mut meters {
        meter.hello_latencies.sort();
        meter.heavy_times.sort();
        let per_second = meter.hello_latencies.len() as f64 / meter.hello_elapsed.as_secs_f64();
        let heavy_min = meter.heavy_times[0];
        let fuel_per_ms = meter
            .heavy_fuel
            .iter()
            .min()
            .map(|fuel| format!("{:.0}", *fuel as f64 / heavy_min.as_secs_f64() / 1e3))
            .unwrap_or_else(|| "-".to_owned());
        let hello_cpu = meter.hello_cpu / u32::try_from(meter.hello_latencies.len()).unwrap_or(u32::MAX);
        let heavy_cpu = meter.heavy_cpu / u32::try_from(meter.heavy_times.len()).unwrap_or(u32::MAX);
        println!(
            "{:<18} | {:>9.1?} | {:>9.1?} | {:>22.0} | {:>13.1?} | {:>7.1?} | {:>7.1?} | {:>7.1?} | {fuel_per_ms}",
            meter.name,
            percentile(&meter.hello_latencies, 0.5),
            percentile(&meter.hello_latencies, 0.99),
            per_second,
            hello_cpu,
            heavy_min,
            percentile(&meter.heavy_times, 0.5),
            heavy_cpu,
        );
    }
}
