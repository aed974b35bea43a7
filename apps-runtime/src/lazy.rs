//! A [`LazyApp`]: an app registered to serve whose compiled component is loaded on its first
//! request and dropped again once it has been idle, so that a deployed app nobody is using costs a
//! small entry instead of its compiled code and pre-instantiation (≈ 270 KiB each, BENCHMARKS.md).
//!
//! Registering does no I/O: the deploy already validated and precompiled the component, whose
//! artifact stays in the cache directory. The first request maps that artifact and pre-instantiates
//! it (≈ 0.3 ms; a version another app runs is shared from memory); concurrent first requests wait
//! for one load. The embedder calls [`LazyApp::unload_if_idle`] from time to time; requests in
//! flight keep the version they started with, and the next request loads it again.
//!
//! The app's limits, capabilities and concurrency limit belong to the registration, not to the
//! loaded code, so they hold across unloads and reloads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderValue;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::app::{AppShared, CompiledVersion, LoadedApp};
use crate::error::LoadError;
use crate::failure::{Failure, REQUEST_ID_HEADER};
use crate::http::{RequestStats, ResponseBody, request_id_of};
use crate::limits::Limits;
use crate::log::LogBudget;
use crate::runtime::{ComponentSource, RuntimeInner};

/// An app that loads its component on demand. Cheap to clone: clones share the loaded code, the
/// idle clock and the concurrency limit.
#[derive(Clone)]
pub struct LazyApp {
    inner: Arc<LazyInner>,
}

struct LazyInner {
    runtime: Arc<RuntimeInner>,
    digest: String,
    source: ComponentSource,
    shared: Arc<AppShared>,
    in_flight: Arc<Semaphore>,
    loaded: RwLock<Option<Arc<CompiledVersion>>>,
    /// One load at a time; later arrivals find the version loaded.
    loading: tokio::sync::Mutex<()>,
    /// When the app was registered; `last_used_ms` counts from it.
    registered: Instant,
    last_used_ms: AtomicU64,
}

impl LazyApp {
    pub(crate) fn new(
        runtime: Arc<RuntimeInner>,
        digest: String,
        source: ComponentSource,
        shared: Arc<AppShared>,
    ) -> Self {
        let permits = usize::try_from(shared.limits.max_concurrent_requests).unwrap_or(usize::MAX);
        LazyApp {
            inner: Arc::new(LazyInner {
                runtime,
                digest,
                source,
                shared,
                in_flight: Arc::new(Semaphore::new(permits)),
                loaded: RwLock::new(None),
                loading: tokio::sync::Mutex::new(()),
                registered: Instant::now(),
                last_used_ms: AtomicU64::new(0),
            }),
        }
    }

    /// The app.
    pub fn app_id(&self) -> Uuid {
        self.inner.shared.app_id
    }

    /// The sha256 of the component it runs (lowercase hex).
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// Its limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.shared.limits
    }

    /// Whether its component is in memory now.
    pub fn is_loaded(&self) -> bool {
        self.inner.loaded_version().is_some()
    }

    /// The app ready to serve, loading its component if it is not in memory. Counts as a use.
    pub async fn get(&self) -> Result<LoadedApp, LoadError> {
        self.touch();
        if let Some(version) = self.inner.loaded_version() {
            return Ok(self.serving(version));
        }
        let _one_load = self.inner.loading.lock().await;
        if let Some(version) = self.inner.loaded_version() {
            return Ok(self.serving(version));
        }
        let (runtime, digest, source) =
            (self.inner.runtime.clone(), self.inner.digest.clone(), self.inner.source.clone());
        let version = tokio::task::spawn_blocking(move || runtime.version(Some(digest), &source))
            .await
            .map_err(|error| LoadError::Interrupted(error.to_string()))??;
        *self.inner.loaded.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(version.clone());
        Ok(self.serving(version))
    }

    /// Serves one request (see [`LoadedApp::handle`]), loading the component first if needed. A
    /// component that cannot be loaded (its artifact gone, say) answers a clean 503 with a request
    /// id, and the reason goes to the app's log.
    pub async fn handle<B>(&self, request: http::Request<B>) -> http::Response<ResponseBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        match self.get().await {
            Ok(app) => app.handle(request).await,
            Err(error) => self.unavailable(request.headers(), &error, started),
        }
    }

    /// Drops the loaded component when the app has not been used for `idle` and serves nothing
    /// right now; whether it did.
    pub fn unload_if_idle(&self, idle: Duration) -> bool {
        let now = self.elapsed_ms();
        let last = self.inner.last_used_ms.load(Ordering::Relaxed);
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        let limit = usize::try_from(self.inner.shared.limits.max_concurrent_requests).unwrap_or(usize::MAX);
        if now.saturating_sub(last) < idle_ms || self.inner.in_flight.available_permits() < limit {
            return false;
        }
        self.inner.loaded.write().unwrap_or_else(|poisoned| poisoned.into_inner()).take().is_some()
    }

    fn touch(&self) {
        self.inner.last_used_ms.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.inner.registered.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn serving(&self, version: Arc<CompiledVersion>) -> LoadedApp {
        LoadedApp::from_parts(
            self.inner.runtime.clone(),
            version,
            self.inner.shared.clone(),
            self.inner.in_flight.clone(),
        )
    }

    fn unavailable(
        &self,
        headers: &http::HeaderMap,
        error: &LoadError,
        started: Instant,
    ) -> http::Response<ResponseBody> {
        let request_id = request_id_of(headers);
        let shared = &self.inner.shared;
        let failure = Failure::Unloadable(error.to_string());
        let logs = LogBudget::new(
            shared.capabilities.logs.clone(),
            shared.app_id,
            request_id.clone(),
            shared.limits.max_log_bytes_per_request,
        );
        logs.runtime(failure.log_level(), &failure.log_message());
        tracing::warn!(app_id = %shared.app_id, %request_id, error = %error, "cannot load an app");
        let mut response = failure.response(&request_id);
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        response.extensions_mut().insert(RequestStats {
            request_id,
            duration: started.elapsed(),
            cpu_ms: None,
            fuel: None,
            failure: Some(failure.code()),
        });
        response
    }
}

impl LazyInner {
    fn loaded_version(&self) -> Option<Arc<CompiledVersion>> {
        // Updates are single assignments, so a poisoned lock still holds a valid value.
        self.loaded.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

impl std::fmt::Debug for LazyApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyApp")
            .field("app_id", &self.inner.shared.app_id)
            .field("digest", &self.inner.digest)
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}
