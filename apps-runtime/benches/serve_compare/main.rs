//! Serving the same hello-world `wasi:http` component (`tests/components/hello-std`) four ways,
//! under the same load, in one run; then the runtime's own figures (instantiation, first request
//! after deploy). Results in BENCHMARKS.md.
//!
//! Targets, each its own process (see `servers.rs`, `vibe.rs`):
//! 1. `vibe serve` with the app deployed by `vibe app deploy`, at `/apps/hello/`: the host's
//!    routing, wrapper, analytics and the app's default limits (all on);
//! 2. `runtime only`: [`vibe_apps_runtime::LoadedApp::handle`] behind a bare hyper server;
//! 3. `wasmtime serve -S cli=y` (wasmtime-cli 43, the same wasmtime as ours);
//! 4. `process per request`: a native program spawned per request.
//!
//! The load (`load.rs`): `SERVE_COMPARE_CONNECTIONS` keep-alive connections (default 16) from one
//! client thread, `SERVE_COMPARE_SECONDS` per target and round (default 5) in
//! `SERVE_COMPARE_ROUNDS` interleaved rounds (default 5), after `SERVE_COMPARE_WARMUP_SECONDS`
//! (default 2) per target; at most `SERVE_COMPARE_MAX_REQUESTS` requests per target and round.
//! Interleaving spreads the load other processes put on the machine over every target alike; the
//! server CPU time per request (from `/proc`) is reported because it does not grow when other
//! processes take the cores.
//!
//! Where things are: `VIBE_BIN` (default: `vibe` beside the bench's `deps/` directory, i.e. built
//! by `cargo build --release -p vibe-host --bin vibe` into the same target directory),
//! `WASMTIME_BIN` (default `/opt/wasmtime-43/bin/wasmtime`), `DATABASE_URL` (a PostgreSQL server
//! where the bench may create and drop a database). A missing `vibe` or `wasmtime` skips its row
//! and says so. `SERVE_COMPARE_ONLY` (comma-separated name prefixes) keeps only some targets.
//!
//! Run: `cargo build --release -p vibe-host --bin vibe && cargo bench -p vibe-apps-runtime --bench serve_compare`

mod load;
mod micro;
mod servers;
mod vibe;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use load::{Load, Outcome, percentile};
use servers::ChildGuard;
use vibe_test_components::HELLO_STD;

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// One server under test.
struct Target {
    name: &'static str,
    addr: SocketAddr,
    path: String,
    pid: u32,
    /// The process (and what it needs), stopped when the target is dropped.
    _process: Box<dyn std::any::Any>,
    outcome: Outcome,
    per_round: Vec<f64>,
    cpu: Duration,
}

impl Target {
    fn child(name: &'static str, addr: SocketAddr, path: &str, process: ChildGuard) -> Target {
        let pid = process.0.id();
        Target::new(name, addr, path, pid, Box::new(process))
    }

    fn new(
        name: &'static str,
        addr: SocketAddr,
        path: &str,
        pid: u32,
        process: Box<dyn std::any::Any>,
    ) -> Target {
        Target {
            name,
            addr,
            path: path.to_owned(),
            pid,
            _process: process,
            outcome: Outcome::default(),
            per_round: Vec::new(),
            cpu: Duration::ZERO,
        }
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map_or("?", |rest| rest.trim_start_matches([' ', '\t', ':']));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo.lines().find_map(|line| line.strip_prefix("MemTotal:")).map_or("?", str::trim);
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cores} CPUs ({model}), MemTotal {memory}")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn default_vibe_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|me| Some(me.parent()?.parent()?.join("vibe")))
        .unwrap_or_else(|| PathBuf::from("vibe"))
}

fn main() {
    servers::run_role_if_asked();
    // `cargo bench` passes `--bench`; `cargo test --benches` and test runners listing tests do not:
    // they must not start a minute-long benchmark.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("serve_compare: a benchmark; run it with `cargo bench --bench serve_compare`");
        return;
    }
    let load = Load {
        connections: setting("SERVE_COMPARE_CONNECTIONS", 16),
        duration: Duration::from_secs_f64(setting("SERVE_COMPARE_SECONDS", 5.0)),
        max_requests: setting("SERVE_COMPARE_MAX_REQUESTS", 2_000_000),
    };
    let warmup =
        Load { duration: Duration::from_secs_f64(setting("SERVE_COMPARE_WARMUP_SECONDS", 2.0)), ..load };
    let rounds: usize = setting("SERVE_COMPARE_ROUNDS", 5);
    let samples = micro::Samples {
        instantiate: setting("SERVE_COMPARE_INSTANTIATIONS", 20_000),
        deploy_cached: setting("SERVE_COMPARE_CACHED_DEPLOYS", 20),
        deploy_cold: setting("SERVE_COMPARE_COLD_DEPLOYS", 3),
    };
    let vibe_bin = std::env::var_os("VIBE_BIN").map_or_else(default_vibe_bin, PathBuf::from);
    let wasmtime_bin = PathBuf::from(setting("WASMTIME_BIN", "/opt/wasmtime-43/bin/wasmtime".to_owned()));
    let admin_url = setting("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let component = std::fs::read(HELLO_STD).expect("the hello component");

    println!("machine: {}", machine());
    println!("load average at start: {}", load_average());
    println!("component: {HELLO_STD} ({} bytes)", component.len());
    println!(
        "load: {} connections, {} round(s) of {:?} per target after a {:?} warmup, one client thread",
        load.connections, rounds, load.duration, warmup.duration
    );

    // The client: one thread, so that it takes at most one core, on every target alike.
    let client = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let scratch = tempfile::tempdir().expect("temporary directory");
    let mut targets = Vec::new();

    let vibe = if vibe_bin.is_file() {
        let started = client.block_on(vibe::start(&vibe_bin, &admin_url, HELLO_STD.as_ref(), 3, |tag| {
            micro::variant(&component, tag)
        }));
        match started {
            Ok(vibe) => Some(vibe),
            Err(error) => {
                println!("vibe serve: skipped, it did not start: {error}");
                None
            }
        }
    } else {
        println!(
            "vibe serve: skipped, no binary at {} (cargo build --release -p vibe-host --bin vibe)",
            vibe_bin.display()
        );
        None
    };
    let mut vibe_deploys = None;
    if let Some(vibe) = vibe {
        vibe_deploys = Some((vibe.deploy_command.clone(), vibe.deploy_to_first_request.clone()));
        let (addr, pid) = (vibe.addr, vibe.server.0.id());
        // The target owns the whole of it: the server, then its database and data directory.
        targets.push(Target::new("vibe serve (/apps/hello/)", addr, "/apps/hello/", pid, Box::new(vibe)));
    }

    let addr = servers::free_addr();
    targets.push(Target::child(
        "runtime only (LoadedApp::handle)",
        addr,
        "/",
        servers::spawn_role("runtime-only", addr, HELLO_STD.as_ref()),
    ));

    match servers::wasmtime_version(&wasmtime_bin) {
        Ok(version) => {
            println!("wasmtime: {version}");
            let addr = servers::free_addr();
            match servers::spawn_wasmtime(
                &wasmtime_bin,
                HELLO_STD,
                addr,
                &scratch.path().join("wasmtime.log"),
            ) {
                Ok(process) => targets.push(Target::child("wasmtime serve -S cli=y", addr, "/", process)),
                Err(error) => println!("wasmtime serve: skipped, it did not start: {error}"),
            }
        }
        Err(error) => println!("wasmtime serve: skipped, {} cannot run: {error}", wasmtime_bin.display()),
    }

    let native = servers::build_native_hello(scratch.path());
    let addr = servers::free_addr();
    targets.push(Target::child(
        "process per request",
        addr,
        "/",
        servers::spawn_role("process", addr, &native),
    ));

    // `SERVE_COMPARE_ONLY`: a comma-separated list of name prefixes, to look at some targets alone.
    if let Ok(only) = std::env::var("SERVE_COMPARE_ONLY") {
        targets.retain(|target| only.split(',').any(|prefix| target.name.starts_with(prefix.trim())));
    }
    for target in &targets {
        client
            .block_on(vibe::wait_for(target.addr, &target.path, Duration::from_secs(180)))
            .unwrap_or_else(|error| panic!("{}: {error}", target.name));
        let warm = client.block_on(load::run(target.addr, &target.path, warmup));
        println!("warmup {}: {:.0} req/s, {} errors", target.name, warm.per_second(), warm.errors);
    }
    for round in 1..=rounds {
        for target in &mut targets {
            let cpu_before = servers::cpu_time(target.pid);
            let outcome = client.block_on(load::run(target.addr, &target.path, load));
            if let (Some(before), Some(after)) = (cpu_before, servers::cpu_time(target.pid)) {
                target.cpu += after.saturating_sub(before);
            }
            println!(
                "round {round} {}: {:.0} req/s, {} errors",
                target.name,
                outcome.per_second(),
                outcome.errors
            );
            target.per_round.push(outcome.per_second());
            target.outcome.absorb(outcome);
        }
    }
    println!("load average after the load: {}", load_average());
    report(&mut targets);
    drop(targets);

    if let Some((commands, first_requests)) = vibe_deploys {
        println!(
            "\nfirst request after deploy, through vibe (vibe app deploy of a new component → first 200 from vibe serve):"
        );
        for (command, first) in commands.iter().zip(&first_requests) {
            println!(
                "  deploy command {command:.1?}, first 200 after {first:.1?} ({:.1?} after the command returned)",
                first.saturating_sub(*command)
            );
        }
        let after: Vec<Duration> = commands
            .iter()
            .zip(&first_requests)
            .map(|(command, first)| first.saturating_sub(*command))
            .collect();
        println!("  deploy command: {}", micro::summary(&sorted(commands)));
        println!("  deploy → first 200: {}", micro::summary(&sorted(first_requests)));
        println!("  command returned → first 200: {}", micro::summary(&sorted(after)));
    }
    let figures = client.block_on(micro::measure(HELLO_STD, &samples));
    println!("\nruntime, in process:");
    println!("  instantiate (fresh store + instance): {}", micro::summary(&figures.instantiate));
    println!("  one request through LoadedApp::handle (no network): {}", micro::summary(&figures.request));
    println!(
        "  first request after load from the artifact cache: {}",
        micro::summary(&figures.deploy_cached)
    );
    println!("  first request after a cold compile: {}", micro::summary(&figures.deploy_cold));
    println!("load average at the end: {}", load_average());
}

fn sorted(mut durations: Vec<Duration>) -> Vec<Duration> {
    durations.sort_unstable();
    durations
}

fn report(targets: &mut [Target]) {
    let rate = |name: &str| {
        targets.iter().find(|target| target.name.starts_with(name)).map(|target| target.outcome.per_second())
    };
    let (wasmtime, process) = (rate("wasmtime serve"), rate("process per request"));
    println!(
        "\n| target | requests | errors | req/s | req/s per round | p50 | p99 | server CPU/req | × wasmtime serve | × process per request |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for target in targets.iter_mut() {
        let outcome = &target.outcome;
        let per_second = outcome.per_second();
        let rounds = target.per_round.iter().map(|rate| format!("{rate:.0}")).collect::<Vec<_>>().join(", ");
        let cpu = target.cpu.as_secs_f64() * 1e6 / outcome.ok.max(1) as f64;
        let ratio = |base: Option<f64>| {
            base.map_or_else(|| "-".to_owned(), |base| format!("{:.2}", per_second / base))
        };
        println!(
            "| {} | {} | {} | {per_second:.0} | {rounds} | {:.1?} | {:.1?} | {cpu:.0} µs | {} | {} |",
            target.name,
            outcome.ok,
            outcome.errors,
            percentile(&outcome.latencies, 0.5),
            percentile(&outcome.latencies, 0.99),
            ratio(wasmtime),
            ratio(process),
        );
    }
}
