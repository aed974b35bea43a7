//! Hostile apps: each is stopped cleanly, with an error response carrying a request id and an
//! entry in its log, and nothing changes for the next request or for other apps.

use std::time::{Duration, Instant};

use vibe_apps_runtime::{CpuMeter, Limits};
use vibe_test_components::{BIG_BODY, COMPUTE, GROW, HELLO_STD, LOOP, RECURSE, TRAP};

use crate::support::{get, load, read, read_error, runtime, runtime_messages, runtime_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_by_its_budget_while_another_app_keeps_answering() {
    let (runtime, _cache) = runtime();
    let (spinner, spinner_logs) = load(&runtime, LOOP, Limits { cpu_ms: 300, ..Limits::default() }).await;
    let (hello, _logs) = load(&runtime, HELLO_STD, Limits::default()).await;

    let started = Instant::now();
    let spinning = tokio::spawn(async move { spinner.handle(get("/")).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut answered_while_spinning = 0;
    while !spinning.is_finished() {
        let asked = Instant::now();
        let (status, body) = read(hello.handle(get("/other")).await).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "hello from /other\n"));
        assert!(asked.elapsed() < Duration::from_millis(250), "the other app answers promptly");
        answered_while_spinning += 1;
    }
    let response = spinning.await.unwrap();
    let elapsed = started.elapsed();

    assert!(answered_while_spinning >= 3, "only {answered_while_spinning} answers while the loop ran");
    let (status, code, request_id) = read_error(response).await;
    assert_eq!((status.as_u16(), code.as_str()), (504, "app_cpu_budget_exceeded"));
    assert!(elapsed < Duration::from_secs(3), "stopped after {elapsed:?}, budget 300 ms of CPU");
    let messages = runtime_messages(&spinner_logs, &request_id);
    assert!(messages.iter().any(|m| m.contains("CPU budget of 300 ms")), "{messages:?}");
}

#[tokio::test]
async fn fuel_metering_stops_an_infinite_loop_too() {
    let (runtime, _cache) = runtime_with(CpuMeter::Fuel { fuel_per_ms: 100_000, yield_interval: 10_000 });
    let (spinner, _logs) = load(&runtime, LOOP, Limits { cpu_ms: 100, ..Limits::default() }).await;

    let (status, code, _) = read_error(spinner.handle(get("/")).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (504, "app_cpu_budget_exceeded"));
}

#[tokio::test]
async fn the_wall_clock_deadline_stops_an_app_with_cpu_to_spare() {
    let (runtime, _cache) = runtime();
    let limits = Limits { cpu_ms: 30_000, deadline_ms: 300, ..Limits::default() };
    let (spinner, logs) = load(&runtime, LOOP, limits).await;

    let started = Instant::now();
    let (status, code, request_id) = read_error(spinner.handle(get("/")).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (504, "app_deadline_exceeded"));
    assert!(started.elapsed() < Duration::from_secs(2), "stopped after {:?}", started.elapsed());
    assert!(runtime_messages(&logs, &request_id).iter().any(|m| m.contains("deadline of 300 ms")));
}

#[tokio::test]
async fn cpu_heavy_work_within_budget_answers_and_beyond_it_is_stopped() {
    let (runtime, _cache) = runtime();
    let (app, _logs) = load(&runtime, COMPUTE, Limits { cpu_ms: 200, ..Limits::default() }).await;

    let (status, body) = read(app.handle(get("/?n=1000")).await).await;
    assert_eq!(status, 200);
    assert!(body.parse::<u64>().is_ok(), "{body}");

    let (status, code, _) = read_error(app.handle(get("/?n=100000000000")).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (504, "app_cpu_budget_exceeded"));
}

#[tokio::test]
async fn growing_memory_past_the_cap_is_a_clean_error() {
    let (runtime, _cache) = runtime();
    let (app, logs) = load(&runtime, GROW, Limits { memory_bytes: 32 << 20, ..Limits::default() }).await;

    let (status, code, request_id) = read_error(app.handle(get("/")).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (500, "app_memory_limit_exceeded"));
    let messages = runtime_messages(&logs, &request_id);
    assert!(messages.iter().any(|m| m.contains("memory limit of 33554432 bytes")), "{messages:?}");
}

#[tokio::test]
async fn deep_recursion_is_a_clean_error() {
    let (runtime, _cache) = runtime();
    let (app, logs) = load(&runtime, RECURSE, Limits::default()).await;

    let (status, code, request_id) = read_error(app.handle(get("/")).await).await;
    assert_eq!(status, 500);
    assert_eq!(code, "app_stack_overflow", "{:?}", runtime_messages(&logs, &request_id));
}

#[tokio::test]
async fn a_huge_response_body_is_a_clean_error() {
    let (runtime, _cache) = runtime();
    let limits = Limits { max_response_body_bytes: 1 << 20, ..Limits::default() };
    let (app, logs) = load(&runtime, BIG_BODY, limits).await;

    let (status, code, request_id) = read_error(app.handle(get("/?mib=64")).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (500, "app_response_too_large"));
    assert!(runtime_messages(&logs, &request_id).iter().any(|m| m.contains("1048576 bytes")));

    // Within the limit, the same app's body passes whole.
    let limits = Limits { max_response_body_bytes: 2 << 20, ..Limits::default() };
    let (app, _logs) = load(&runtime, BIG_BODY, limits).await;
    let (status, body) = read(app.handle(get("/?mib=1")).await).await;
    assert_eq!((status.as_u16(), body.len()), (200, 1 << 20));
}

#[tokio::test]
async fn the_request_after_a_trap_succeeds() {
    let (runtime, _cache) = runtime();
    let (app, logs) = load(&runtime, TRAP, Limits::default()).await;

    let (status, code, request_id) = read_error(app.handle(get("/trap")).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (500, "app_trapped"));
    let panic_line =
        logs.entries().into_iter().any(|e| e.request_id == request_id && e.message.contains("asked to trap"));
    assert!(panic_line, "the panic message reaches the app's log through stderr");

    for _ in 0..2 {
        let (status, body) = read(app.handle(get("/")).await).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "ok"));
    }
}
