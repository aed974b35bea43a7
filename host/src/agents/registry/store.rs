//! Where plugin bytes are kept: the platform's content-addressed artifact store
//! (`crate::apps::artifacts`, shared with app components), under the sha256 of the bytes. Plugins and
//! apps share one store safely because a digest names exactly one content; a cluster moves the store
//! to object storage by implementing [`ArtifactStore`] once for both.

use anyhow::Context;

pub use crate::apps::artifacts::{ArtifactStore, LocalArtifacts, digest};

/// The bytes of the plugin `digest`; an error if the store lost them.
pub async fn fetch(store: &dyn ArtifactStore, digest: &str) -> anyhow::Result<Vec<u8>> {
    store
        .get(digest)
        .await
        .with_context(|| format!("reading plugin {digest} from the artifact store"))?
        .with_context(|| format!("plugin {digest} is missing from the artifact store"))
}
