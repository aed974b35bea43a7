//! The live table: which version of which app this process serves, by slug.
//!
//! An entry is immutable and shared ([`Arc<LiveApp>`]); switching an app replaces its entry in one
//! step under the lock. A request takes its entry's `Arc` when it starts and keeps it to the end, so
//! requests in flight finish on the version they started on while new ones get the new version.
//!
//! A serving entry holds a [`LazyApp`]: its component is loaded on the app's first request and
//! unloaded once the app has been idle ([`Registry::unload_idle`], run by the apps service), so
//! that thousands of deployed apps nobody is using cost little memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use uuid::Uuid;
use vibe_apps_runtime::LazyApp;

/// What an app's address answers.
#[derive(Clone, Debug)]
pub enum LiveState {
    /// Its live version serves requests (loaded on demand).
    Serving(LazyApp),
    /// Paused: it answers 503 with a page saying why.
    Paused(PauseReason),
}

/// Why an app is paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseReason {
    /// Its owner paused it.
    ByOwner,
    /// Its owner ran out of credits and the grace period ended (`crate::ledger::grace`).
    OutOfCredits,
}

/// One app as this process serves it.
#[derive(Debug)]
pub struct LiveApp {
    pub app_id: Uuid,
    pub slug: String,
    /// The live version.
    pub version_id: Uuid,
    pub version: i32,
    pub state: LiveState,
    /// Whether the Vibe Wrapper is injected into its HTML (`features_enabled.wrapper`, default on).
    pub wrapper: bool,
    /// What the entry was built from (status, version, hosting configuration, features); an entry
    /// whose fingerprint matches the database is kept as it is.
    pub(crate) fingerprint: String,
}

#[derive(Default)]
struct Table {
    by_slug: HashMap<String, Arc<LiveApp>>,
    slug_of: HashMap<Uuid, String>,
}

/// Slug → live app. Cheap to read from every request.
#[derive(Default)]
pub struct Registry {
    table: RwLock<Table>,
}

impl Registry {
    fn read(&self) -> RwLockReadGuard<'_, Table> {
        // Every write leaves both maps consistent before it can panic, so a poisoned lock is usable.
        self.table.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The app served at `slug`.
    pub fn by_slug(&self, slug: &str) -> Option<Arc<LiveApp>> {
        self.read().by_slug.get(slug).cloned()
    }

    /// The entry of app `app_id`.
    pub fn by_id(&self, app_id: Uuid) -> Option<Arc<LiveApp>> {
        let table = self.read();
        let app = table.slug_of.get(&app_id).and_then(|slug| table.by_slug.get(slug))?;
        (app.app_id == app_id).then(|| app.clone())
    }

    /// Makes `app` the live entry of its app, in one step.
    pub fn switch(&self, app: LiveApp) {
        let mut table = self.write();
        if let Some(old_slug) = table.slug_of.insert(app.app_id, app.slug.clone())
            && old_slug != app.slug
            && table.by_slug.get(&old_slug).is_some_and(|old| old.app_id == app.app_id)
        {
            table.by_slug.remove(&old_slug);
        }
        // A slug freed by a deleted app and taken by another: the old app's entry goes.
        if let Some(previous) = table.by_slug.insert(app.slug.clone(), Arc::new(app))
            && let Some(current) = table.by_slug.get(&previous.slug)
            && previous.app_id != current.app_id
        {
            table.slug_of.remove(&previous.app_id);
        }
    }

    /// Stops serving app `app_id` (requests in flight finish).
    pub fn remove(&self, app_id: Uuid) {
        let mut table = self.write();
        if let Some(slug) = table.slug_of.remove(&app_id)
            && table.by_slug.get(&slug).is_some_and(|app| app.app_id == app_id)
        {
            table.by_slug.remove(&slug);
        }
    }

    /// Unloads the component of every app idle for `idle`; how many were unloaded.
    pub fn unload_idle(&self, idle: Duration) -> usize {
        let serving: Vec<LazyApp> = self
            .read()
            .by_slug
            .values()
            .filter_map(|app| match &app.state {
                LiveState::Serving(lazy) if lazy.is_loaded() => Some(lazy.clone()),
                _ => None,
            })
            .collect();
        serving.iter().filter(|lazy| lazy.unload_if_idle(idle)).count()
    }

    /// How many apps have their component in memory now.
    pub fn loaded(&self) -> usize {
        self.read()
            .by_slug
            .values()
            .filter(|app| matches!(&app.state, LiveState::Serving(lazy) if lazy.is_loaded()))
            .count()
    }

    /// How many apps are live (serving or paused).
    pub fn len(&self) -> usize {
        self.read().by_slug.len()
    }

    /// Whether no app is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
