//! Errors of the apps runtime.
//!
//! Policy: [`LoadError`] says why a component cannot be served, in words the app's owner can act
//! on (the host shows it at deploy). [`RuntimeError`] is for the embedder: the runtime could not
//! start. Whatever goes wrong while serving a request never becomes a Rust error: it becomes a
//! clean HTTP error response carrying a request id, plus an entry in the app's log (see
//! `failure.rs`).

use std::io;
use std::path::PathBuf;

/// Why a component was refused at load (deploy).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly file: it does not start with the `\\0asm` header")]
    NotWasm,
    /// A core WebAssembly module was given where a component is needed.
    #[error("a core WebAssembly module, not a component: build the app for the wasm32-wasip2 target")]
    CoreModule,
    /// The component does not validate or does not compile.
    #[error("invalid component: {0}")]
    InvalidComponent(String),
    /// The component needs an import Vibe does not grant, or does not export
    /// `wasi:http/incoming-handler`.
    #[error("the component does not fit the vibe:app world: {0}")]
    WrongWorld(String),
    /// The digest the caller expected is malformed or does not match the bytes.
    #[error("digest mismatch: expected {expected}, the component's sha256 is {actual}")]
    DigestMismatch {
        /// The digest the caller gave.
        expected: String,
        /// The sha256 of the bytes (empty when the expected digest is malformed).
        actual: String,
    },
    /// The app's limits or outbound allow-list are malformed or out of range.
    #[error("invalid hosting configuration: {0}")]
    InvalidConfig(String),
    /// The component file could not be read.
    #[error("cannot read the component {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The precompiled-artifact cache could not be written.
    #[error("cannot write the precompiled artifact {path}: {source}")]
    Cache {
        /// The artifact or temporary file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// Compilation ran on a blocking thread that failed (a bug, logged).
    #[error("compilation was interrupted: {0}")]
    Interrupted(String),
}

/// Why the runtime could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// wasmtime refused the engine configuration (pool sizes, limits).
    #[error("cannot configure the wasm engine: {0}")]
    Engine(String),
    /// The precompiled-artifact directory cannot be created.
    #[error("cannot create the artifact cache directory {path}: {source}")]
    CacheDir {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The epoch ticker thread could not be started.
    #[error("cannot start the epoch ticker thread: {0}")]
    Ticker(io::Error),
}
