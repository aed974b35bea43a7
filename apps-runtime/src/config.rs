//! `vibe:app/config`: the app's settings and secrets, read-only to the app. The embedder provides
//! one [`AppConfig`] per app; [`StaticConfig`] serves a fixed map (the version's configuration).

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::bindings::config::{Error as ConfigError, Host};
use crate::state::RequestState;

/// One app's settings and secrets. Every method's error is returned to the app as is.
#[async_trait]
pub trait AppConfig: Send + Sync {
    /// The value of `name`, if set.
    async fn get(&self, name: &str) -> Result<Option<String>, ConfigError>;
    /// All names, ascending.
    async fn list_names(&self) -> Result<Vec<String>, ConfigError>;
}

/// A fixed set of settings and secrets.
#[derive(Clone, Debug, Default)]
pub struct StaticConfig {
    values: BTreeMap<String, String>,
}

impl StaticConfig {
    /// A configuration holding `values`.
    pub fn new(values: impl IntoIterator<Item = (String, String)>) -> Self {
        StaticConfig { values: values.into_iter().collect() }
    }
}

#[async_trait]
impl AppConfig for StaticConfig {
    async fn get(&self, name: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.values.get(name).cloned())
    }

    async fn list_names(&self) -> Result<Vec<String>, ConfigError> {
        Ok(self.values.keys().cloned().collect())
    }
}

impl Host for RequestState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<Option<String>, ConfigError>> {
        Ok(self.app.capabilities.config.get(&name).await)
    }

    async fn list_names(&mut self) -> wasmtime::Result<Result<Vec<String>, ConfigError>> {
        Ok(self.app.capabilities.config.list_names().await)
    }
}
