//! Loading: what is not a vibe:app component is refused with the reason, and each component is
//! compiled once, then loaded from the artifact cache by later runtimes.

use std::time::Instant;

use uuid::Uuid;
use vibe_apps_runtime::{Capabilities, ComponentSource, CpuMeter, Limits, LoadError, Runtime};
use vibe_test_components::{HELLO_STD, STATE, WRONG_WORLD};

use crate::support::{config, get, read, runtime};

async fn load_bytes(runtime: &Runtime, bytes: Vec<u8>) -> Result<vibe_apps_runtime::LoadedApp, LoadError> {
    runtime
        .load(
            Uuid::new_v4(),
            None,
            ComponentSource::Bytes(bytes),
            Limits::default(),
            Capabilities::isolated(),
        )
        .await
}

#[tokio::test]
async fn what_is_not_an_app_is_refused_with_the_reason() {
    let (runtime, _cache) = runtime();

    let error = load_bytes(&runtime, b"<html>not wasm</html>".to_vec()).await.unwrap_err();
    assert!(matches!(error, LoadError::NotWasm), "{error}");
    assert!(error.to_string().contains("not a WebAssembly file"));

    // The smallest valid core module: the header alone.
    let error = load_bytes(&runtime, b"\0asm\x01\0\0\0".to_vec()).await.unwrap_err();
    assert!(matches!(error, LoadError::CoreModule), "{error}");
    assert!(error.to_string().contains("not a component"));

    let mut garbage = b"\0asm\x0d\0\x01\0".to_vec();
    garbage.extend_from_slice(&[0xff; 64]);
    let error = load_bytes(&runtime, garbage).await.unwrap_err();
    assert!(matches!(error, LoadError::InvalidComponent(_)), "{error}");

    let command = std::fs::read(WRONG_WORLD).unwrap();
    let error = load_bytes(&runtime, command).await.unwrap_err();
    let LoadError::WrongWorld(reason) = &error else { panic!("expected WrongWorld, got {error}") };
    assert!(reason.contains("wasi:http/incoming-handler"), "{reason}");

    let error = runtime
        .load(
            Uuid::new_v4(),
            None,
            ComponentSource::File("/nonexistent.wasm".into()),
            Limits::default(),
            Capabilities::isolated(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, LoadError::Read { .. }), "{error}");
}

#[tokio::test]
async fn a_wrong_digest_is_refused() {
    let (runtime, _cache) = runtime();
    let wrong = "0".repeat(64);
    let error = runtime
        .load(
            Uuid::new_v4(),
            Some(&wrong),
            ComponentSource::File(HELLO_STD.into()),
            Limits::default(),
            Capabilities::isolated(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, LoadError::DigestMismatch { .. }), "{error}");
}

#[tokio::test]
async fn a_component_is_compiled_once_and_reused_from_disk_by_the_next_runtime() {
    let cache = tempfile::tempdir().unwrap();
    let first = Runtime::new(config(cache.path().to_owned(), CpuMeter::default())).unwrap();
    let started = Instant::now();
    let app = first
        .load(
            Uuid::new_v4(),
            None,
            ComponentSource::File(HELLO_STD.into()),
            Limits::default(),
            Capabilities::isolated(),
        )
        .await
        .unwrap();
    let compile_time = started.elapsed();
    let digest = app.digest().to_owned();
    assert_eq!(first.cache_stats().compiled, 1);
    assert!(first.artifact_path(&digest).unwrap().is_file(), "the artifact is on disk");

    // A second app with the same bytes shares the version in memory.
    let twin = first
        .load(
            Uuid::new_v4(),
            Some(&digest),
            ComponentSource::File(HELLO_STD.into()),
            Limits::default(),
            Capabilities::isolated(),
        )
        .await
        .unwrap();
    assert_eq!(first.cache_stats().compiled, 1);
    assert_eq!(first.cache_stats().shared_in_memory, 1);
    assert_eq!(read(twin.handle(get("/")).await).await.0, 200);
    drop((app, twin, first));

    // A new runtime (a restart) loads the artifact without compiling, and without reading the
    // component when the digest is known.
    let second = Runtime::new(config(cache.path().to_owned(), CpuMeter::default())).unwrap();
    let started = Instant::now();
    let app = second
        .load(
            Uuid::new_v4(),
            Some(&format!("sha256:{digest}")),
            ComponentSource::File("/gone/hello.wasm".into()),
            Limits::default(),
            Capabilities::isolated(),
        )
        .await
        .unwrap();
    let load_time = started.elapsed();
    let stats = second.cache_stats();
    assert_eq!((stats.compiled, stats.loaded_from_disk), (0, 1));
    assert!(load_time < compile_time, "loading took {load_time:?}, compiling {compile_time:?}");
    let (status, body) = read(app.handle(get("/again")).await).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "hello from /again\n"));

    // Another component is compiled as usual.
    second
        .load(
            Uuid::new_v4(),
            None,
            ComponentSource::File(STATE.into()),
            Limits::default(),
            Capabilities::isolated(),
        )
        .await
        .unwrap();
    assert_eq!(second.cache_stats().compiled, 1);
}

#[tokio::test]
async fn a_damaged_artifact_is_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(config(cache.path().to_owned(), CpuMeter::default())).unwrap();
    let app = runtime
        .load(
            Uuid::new_v4(),
            None,
            ComponentSource::File(HELLO_STD.into()),
            Limits::default(),
            Capabilities::isolated(),
        )
        .await
        .unwrap();
    let path = runtime.artifact_path(app.digest()).unwrap();
    let digest = app.digest().to_owned();
    drop((app, runtime));
    std::fs::write(&path, b"damaged").unwrap();

    let runtime = Runtime::new(config(cache.path().to_owned(), CpuMeter::default())).unwrap();
    let app = runtime
        .load(
            Uuid::new_v4(),
            Some(&digest),
            ComponentSource::File(HELLO_STD.into()),
            Limits::default(),
            Capabilities::isolated(),
        )
        .await
        .unwrap();
    assert_eq!(runtime.cache_stats().compiled, 1);
    assert_eq!(read(app.handle(get("/")).await).await.0, 200);
}
