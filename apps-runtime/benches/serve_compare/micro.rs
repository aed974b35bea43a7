//! The runtime's own figures, in this process, one thing at a time:
//!
//! - instantiation: the app's pre-instantiated component → a fresh store (the request's WASI and
//!   HTTP contexts, limiter, CPU meter) → an instance ready to call, dropped again
//!   ([`LoadedApp::instantiate_only`]); and a whole request through [`LoadedApp::handle`] without
//!   any network, for scale;
//! - first request after deploy: `Runtime::load` + the first request, once with the precompiled
//!   artifact already in the cache directory (what a server start or a second server does) and once
//!   with a component never seen before (cranelift compiles it first: what a deploy does).
//!
//! Every deploy sample needs a component the runtime has not seen: the hello component with a
//! distinct custom section appended (valid, same code, distinct sha256).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use uuid::Uuid;
use vibe_apps_runtime::{Capabilities, ComponentSource, Limits, LoadedApp, Runtime, RuntimeConfig};

use crate::load::percentile;

/// The figures, each sorted.
pub struct Micro {
    pub instantiate: Vec<Duration>,
    pub request: Vec<Duration>,
    pub deploy_cached: Vec<Duration>,
    pub deploy_cold: Vec<Duration>,
}

/// Samples taken of each kind.
pub struct Samples {
    pub instantiate: usize,
    pub deploy_cached: usize,
    pub deploy_cold: usize,
}

/// `component` with a custom section named `vibe-bench` holding `tag` appended: the same program
/// under another digest.
pub fn variant(component: &[u8], tag: &str) -> Vec<u8> {
    let mut payload = leb128(b"vibe-bench".len());
    payload.extend_from_slice(b"vibe-bench");
    payload.extend_from_slice(tag.as_bytes());
    let mut out = component.to_vec();
    out.push(0);
    out.extend(leb128(payload.len()));
    out.extend(payload);
    out
}

fn leb128(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn request() -> http::Request<Full<Bytes>> {
    http::Request::builder()
        .uri("http://bench.test/")
        .header(http::header::HOST, "bench.test")
        .body(Full::new(Bytes::new()))
        .expect("a valid request")
}

/// Serves one request on `app`, which must answer the hello body.
async fn hello(app: &LoadedApp) {
    let response = app.handle(request()).await;
    let status = response.status();
    let body = response.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
    assert!(status == 200 && body.starts_with(b"hello from"), "the hello app answered {status}: {body:?}");
}

async fn load(runtime: &Runtime, digest: Option<&str>, source: ComponentSource) -> LoadedApp {
    runtime
        .load(Uuid::new_v4(), digest, source, Limits::default(), Capabilities::isolated())
        .await
        .expect("the hello component loads")
}

/// Measures everything on the component at `component`.
pub async fn measure(component: &str, samples: &Samples) -> Micro {
    let cache = tempfile::tempdir().expect("temporary directory");
    let runtime = Runtime::new(RuntimeConfig::new(cache.path())).expect("runtime");
    let bytes = std::fs::read(component).expect("the hello component");
    let app = load(&runtime, None, ComponentSource::Bytes(bytes.clone())).await;

    for _ in 0..samples.instantiate / 10 {
        app.instantiate_only().await.expect("instantiates");
        hello(&app).await;
    }
    let mut instantiate = Vec::with_capacity(samples.instantiate);
    for _ in 0..samples.instantiate {
        let started = Instant::now();
        app.instantiate_only().await.expect("instantiates");
        instantiate.push(started.elapsed());
    }
    let mut request = Vec::with_capacity(samples.instantiate);
    for _ in 0..samples.instantiate {
        let started = Instant::now();
        hello(&app).await;
        request.push(started.elapsed());
    }

    // From the cache: the artifact copied under a fresh digest, so neither the runtime's
    // in-memory versions nor an earlier mapping can serve it; the source file is never read.
    let artifact = runtime.artifact_path(app.digest()).expect("a digest");
    let mut deploy_cached = Vec::with_capacity(samples.deploy_cached);
    for sample in 0..samples.deploy_cached {
        let digest = vibe_digest(&variant(&bytes, &format!("cached-{sample}")));
        std::fs::copy(&artifact, runtime.artifact_path(&digest).expect("a digest"))
            .expect("copying the artifact");
        let started = Instant::now();
        let fresh = load(&runtime, Some(&digest), ComponentSource::File("/not/read.wasm".into())).await;
        hello(&fresh).await;
        deploy_cached.push(started.elapsed());
    }
    let mut deploy_cold = Vec::with_capacity(samples.deploy_cold);
    for sample in 0..samples.deploy_cold {
        let fresh_bytes = variant(&bytes, &format!("cold-{sample}-{}", Uuid::new_v4()));
        let started = Instant::now();
        let fresh = load(&runtime, None, ComponentSource::Bytes(fresh_bytes)).await;
        hello(&fresh).await;
        deploy_cold.push(started.elapsed());
    }
    let mut micro = Micro { instantiate, request, deploy_cached, deploy_cold };
    for figures in
        [&mut micro.instantiate, &mut micro.request, &mut micro.deploy_cached, &mut micro.deploy_cold]
    {
        figures.sort_unstable();
    }
    micro
}

fn vibe_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `p50 / p99 (min .. max, n)` of `sorted`.
pub fn summary(sorted: &[Duration]) -> String {
    match (sorted.first(), sorted.last()) {
        (Some(min), Some(max)) => format!(
            "p50 {:.1?}, p99 {:.1?} (min {:.1?}, max {:.1?}, n = {})",
            percentile(sorted, 0.5),
            percentile(sorted, 0.99),
            min,
            max,
            sorted.len()
        ),
        _ => "no samples".to_owned(),
    }
}
