//! A [`LoadedApp`]: one app's compiled, pre-instantiated version together with its limits and
//! capabilities, ready to serve requests (see `http.rs`). Loaded apps are cheap: an idle one holds
//! no instance, no memory slot and no thread.

use std::sync::Arc;

use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::bindings::AppPre;
use crate::capabilities::Capabilities;
use crate::limits::Limits;
use crate::outbound::OutboundPolicy;
use crate::runtime::RuntimeInner;
use crate::state::RequestState;

/// One compiled component, pre-instantiated against the runtime's linker. Shared by every app
/// that runs the same bytes.
pub(crate) struct CompiledVersion {
    pub(crate) digest: String,
    pub(crate) pre: AppPre<RequestState>,
}

/// What every request of one app shares.
pub(crate) struct AppShared {
    pub(crate) app_id: Uuid,
    pub(crate) limits: Limits,
    pub(crate) capabilities: Capabilities,
    pub(crate) outbound: Arc<OutboundPolicy>,
}

impl AppShared {
    pub(crate) fn new(app_id: Uuid, limits: Limits, capabilities: Capabilities) -> Arc<Self> {
        let outbound = Arc::new(capabilities.outbound.clone());
        Arc::new(AppShared { app_id, limits, capabilities, outbound })
    }
}

/// An app ready to serve. Cheap to clone: clones serve the same app and share its concurrency
/// limit.
#[derive(Clone)]
pub struct LoadedApp {
    pub(crate) runtime: Arc<RuntimeInner>,
    pub(crate) version: Arc<CompiledVersion>,
    pub(crate) shared: Arc<AppShared>,
    pub(crate) in_flight: Arc<Semaphore>,
}

impl LoadedApp {
    pub(crate) fn new(
        runtime: Arc<RuntimeInner>,
        version: Arc<CompiledVersion>,
        shared: Arc<AppShared>,
    ) -> Self {
        let permits = usize::try_from(shared.limits.max_concurrent_requests).unwrap_or(usize::MAX);
        LoadedApp { runtime, version, shared, in_flight: Arc::new(Semaphore::new(permits)) }
    }

    /// An app whose concurrency limit is shared with others (a [`crate::LazyApp`]'s loads).
    pub(crate) fn from_parts(
        runtime: Arc<RuntimeInner>,
        version: Arc<CompiledVersion>,
        shared: Arc<AppShared>,
        in_flight: Arc<Semaphore>,
    ) -> Self {
        LoadedApp { runtime, version, shared, in_flight }
    }

    /// The app.
    pub fn app_id(&self) -> Uuid {
        self.shared.app_id
    }

    /// The sha256 of the component it runs (lowercase hex).
    pub fn digest(&self) -> &str {
        &self.version.digest
    }

    /// Its limits.
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// Requests being served right now.
    pub fn requests_in_flight(&self) -> usize {
        let limit = usize::try_from(self.shared.limits.max_concurrent_requests).unwrap_or(usize::MAX);
        limit.saturating_sub(self.in_flight.available_permits())
    }
}

impl std::fmt::Debug for LoadedApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedApp")
            .field("app_id", &self.shared.app_id)
            .field("digest", &self.version.digest)
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}
