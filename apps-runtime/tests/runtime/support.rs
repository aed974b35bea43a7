//! Shared helpers: a runtime with a small pool, loading a test component with a log sink we can
//! read, requests and response bodies.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tempfile::TempDir;
use uuid::Uuid;
use vibe_apps_runtime::{
    Capabilities, ComponentSource, CpuMeter, Limits, LoadedApp, MemoryLogSink, PoolConfig, Runtime,
    RuntimeConfig,
};

/// A runtime whose artifact cache is a fresh directory (dropped with the returned guard).
pub fn runtime() -> (Runtime, TempDir) {
    runtime_with(CpuMeter::default())
}

/// Like [`runtime`], with the given CPU meter.
pub fn runtime_with(cpu_meter: CpuMeter) -> (Runtime, TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let runtime = Runtime::new(config(dir.path().to_owned(), cpu_meter)).expect("runtime starts");
    (runtime, dir)
}

/// A small pool: tests run side by side, each reserving address space for its slots.
pub fn config(cache_dir: PathBuf, cpu_meter: CpuMeter) -> RuntimeConfig {
    let mut config = RuntimeConfig::new(cache_dir);
    config.cpu_meter = cpu_meter;
    config.pool = PoolConfig {
        component_instances: 32,
        core_instances: 256,
        memories: 32,
        tables: 128,
        stacks: 32,
        ..PoolConfig::default()
    };
    config
}

/// An app running `component` (a path from `vibe_test_components`), and its log.
pub async fn load(runtime: &Runtime, component: &str, limits: Limits) -> (LoadedApp, Arc<MemoryLogSink>) {
    let logs = Arc::new(MemoryLogSink::new(10_000));
    let capabilities = Capabilities { logs: logs.clone(), ..Capabilities::isolated() };
    let app = load_with(runtime, component, limits, capabilities).await;
    (app, logs)
}

/// An app running `component` with the given capabilities.
pub async fn load_with(
    runtime: &Runtime,
    component: &str,
    limits: Limits,
    capabilities: Capabilities,
) -> LoadedApp {
    runtime
        .load(Uuid::new_v4(), None, ComponentSource::File(component.into()), limits, capabilities)
        .await
        .unwrap_or_else(|error| panic!("{component} loads: {error}"))
}

/// `GET path` with an empty body.
pub fn get(path: &str) -> http::Request<Full<Bytes>> {
    request(http::Method::GET, path, Bytes::new())
}

/// A request to the app at `path` with `body`.
pub fn request(method: http::Method, path: &str, body: Bytes) -> http::Request<Full<Bytes>> {
    http::Request::builder()
        .method(method)
        .uri(format!("http://app.test{path}"))
        .header(http::header::HOST, "app.test")
        .body(Full::new(body))
        .expect("a valid request")
}

/// The status and body text of a response.
pub async fn read(response: http::Response<Full<Bytes>>) -> (http::StatusCode, String) {
    let status = response.status();
    let body = response.into_body().collect().await.expect("infallible").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The status, the error body's `code` and `request_id`, and the `x-request-id` header of an
/// error response (asserting the two ids agree).
pub async fn read_error(response: http::Response<Full<Bytes>>) -> (http::StatusCode, String, String) {
    let header = response
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .expect("every response carries x-request-id")
        .to_owned();
    let (status, body) = read(response).await;
    let json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|error| panic!("error body is JSON ({error}): {body}"));
    let code = json["error"]["code"].as_str().unwrap_or_default().to_owned();
    let request_id = json["error"]["request_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(request_id, header, "body and header carry the same request id");
    assert!(json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    (status, code, request_id)
}

/// The messages the runtime logged about request `request_id`.
pub fn runtime_messages(logs: &MemoryLogSink, request_id: &str) -> Vec<String> {
    logs.entries()
        .into_iter()
        .filter(|entry| {
            entry.request_id == request_id && entry.source == vibe_apps_runtime::LogSource::Runtime
        })
        .map(|entry| entry.message)
        .collect()
}
