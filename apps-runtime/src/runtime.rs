//! The [`Runtime`]: the engine, the linker, the artifact cache and the versions in memory; it
//! turns a component into a [`LoadedApp`] ready to serve.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use uuid::Uuid;
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::app::{AppShared, CompiledVersion, LoadedApp};
use crate::bindings::{self, AppPre};
use crate::cache::{self, ArtifactCache, CacheStats};
use crate::capabilities::Capabilities;
use crate::engine::{self, CpuMeter, EpochTicker, RuntimeConfig};
use crate::error::{LoadError, RuntimeError};
use crate::lazy::LazyApp;
use crate::limits::Limits;
use crate::state::RequestState;

/// Where a component's bytes come from.
#[derive(Clone, Debug)]
pub enum ComponentSource {
    /// The bytes themselves.
    Bytes(Vec<u8>),
    /// A file holding them (read only if no artifact is cached for the expected digest).
    File(PathBuf),
}

impl ComponentSource {
    fn read(&self) -> Result<Vec<u8>, LoadError> {
        match self {
            ComponentSource::Bytes(bytes) => Ok(bytes.clone()),
            ComponentSource::File(path) => {
                std::fs::read(path).map_err(|source| LoadError::Read { path: path.clone(), source })
            }
        }
    }
}

/// Runs app components. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    pub(crate) engine: Engine,
    pub(crate) cpu_meter: CpuMeter,
    linker: Linker<RequestState>,
    cache: ArtifactCache,
    ceilings: Limits,
    /// Versions in memory by digest, so apps running the same component share its code.
    versions: Mutex<HashMap<String, Weak<CompiledVersion>>>,
    _ticker: Option<EpochTicker>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("cpu_meter", &self.inner.cpu_meter).finish_non_exhaustive()
    }
}

impl Runtime {
    /// Builds the engine (and starts the epoch ticker when metering by epochs).
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let engine = engine::build_engine(&config)?;
        let linker = bindings::linker(&engine).map_err(|error| RuntimeError::Engine(format!("{error:#}")))?;
        let cache = ArtifactCache::open(&config.cache_dir, &engine)?;
        let ticker = match config.cpu_meter {
            CpuMeter::Epoch { tick } => Some(EpochTicker::start(&engine, tick)?),
            CpuMeter::Fuel { .. } => None,
        };
        let mut ceilings = config.ceilings;
        ceilings.memory_bytes = ceilings.memory_bytes.min(config.pool.max_memory_bytes);
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                cpu_meter: config.cpu_meter,
                linker,
                cache,
                ceilings,
                versions: Mutex::new(HashMap::new()),
                _ticker: ticker,
            }),
        })
    }

    /// Prepares app `app_id` to serve `component`, with `limits` and `capabilities`.
    ///
    /// The component is compiled once per digest (sha256 of its bytes) and cached on disk; a
    /// later load, even by another `Runtime`, maps the cached artifact. With `expected_digest`
    /// and a [`ComponentSource::File`], a cached artifact is used without reading the file; the
    /// bytes, when read, must match the digest. Refuses what is not a `vibe:app` component, with
    /// the reason.
    pub async fn load(
        &self,
        app_id: Uuid,
        expected_digest: Option<&str>,
        component: ComponentSource,
        limits: Limits,
        capabilities: Capabilities,
    ) -> Result<LoadedApp, LoadError> {
        limits.check(&self.inner.ceilings)?;
        let expected = expected_digest.map(cache::normalize_digest).transpose()?;
        let inner = self.inner.clone();
        let version = tokio::task::spawn_blocking(move || inner.version(expected, &component))
            .await
            .map_err(|error| LoadError::Interrupted(error.to_string()))??;
        let shared = AppShared::new(app_id, limits, capabilities);
        Ok(LoadedApp::new(self.inner.clone(), version, shared))
    }

    /// Registers app `app_id` to serve the component `digest` from `source`, with `limits` and
    /// `capabilities`, without loading it: the component is loaded on the app's first request
    /// (see [`LazyApp`]). The component should have been loaded once before (at deploy), so that
    /// its precompiled artifact is cached; otherwise the first request compiles it. Refuses
    /// limits over the ceilings and a malformed digest.
    pub fn register(
        &self,
        app_id: Uuid,
        digest: &str,
        source: ComponentSource,
        limits: Limits,
        capabilities: Capabilities,
    ) -> Result<LazyApp, LoadError> {
        limits.check(&self.inner.ceilings)?;
        let digest = cache::normalize_digest(digest)?;
        let shared = AppShared::new(app_id, limits, capabilities);
        Ok(LazyApp::new(self.inner.clone(), digest, source, shared))
    }

    /// What the artifact cache has done so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// The artifact file for a component digest (it exists once that component was loaded).
    pub fn artifact_path(&self, digest: &str) -> Result<PathBuf, LoadError> {
        Ok(self.inner.cache.path_for(&cache::normalize_digest(digest)?))
    }
}

impl RuntimeInner {
    /// The compiled, pre-instantiated version for the component, from memory, disk or cranelift.
    pub(crate) fn version(
        &self,
        expected: Option<String>,
        source: &ComponentSource,
    ) -> Result<Arc<CompiledVersion>, LoadError> {
        let (digest, mut bytes) = match (&expected, source) {
            (Some(digest), ComponentSource::File(_)) => (digest.clone(), None),
            _ => {
                let bytes = source.read()?;
                (verified_digest(expected.as_deref(), &bytes)?, Some(bytes))
            }
        };
        if let Some(version) = self.versions().get(&digest).and_then(Weak::upgrade) {
            self.cache.shared.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(version);
        }
        let component = match self.cache.load(&self.engine, &digest) {
            Some(component) => component,
            None => {
                let bytes = match bytes.take() {
                    Some(bytes) => bytes,
                    None => {
                        let bytes = source.read()?;
                        verified_digest(Some(&digest), &bytes)?;
                        bytes
                    }
                };
                self.cache.compile(&self.engine, &digest, &bytes)?
            }
        };
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|error| LoadError::WrongWorld(format!("{error:#}")))?;
        let pre = AppPre::new(pre).map_err(|error| {
            LoadError::WrongWorld(format!("it must export wasi:http/incoming-handler@0.2: {error:#}"))
        })?;
        let version = Arc::new(CompiledVersion { digest: digest.clone(), pre });
        let mut versions = self.versions();
        versions.retain(|_, version| version.strong_count() > 0);
        versions.insert(digest, Arc::downgrade(&version));
        Ok(version)
    }

    fn versions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Weak<CompiledVersion>>> {
        // Updates are single inserts and retains, so a poisoned map is still a valid map.
        self.versions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn verified_digest(expected: Option<&str>, bytes: &[u8]) -> Result<String, LoadError> {
    let actual = cache::sha256_hex(bytes);
    match expected {
        Some(expected) if expected != actual => {
            Err(LoadError::DigestMismatch { expected: expected.to_owned(), actual })
        }
        _ => Ok(actual),
    }
}
