//! The WASI context of one request: what the app sees of the machine. Nothing: no environment
//! variables, no arguments, no preopened directories (so no filesystem), no sockets and no name
//! lookups, stdin closed; stdout and stderr go to the app's log (see `stdio.rs`). Clocks and
//! randomness are the host's. Rust's `wasm32-wasip2` std imports all of these interfaces, so they
//! must be linked for ordinary components to instantiate, but they grant nothing.

use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use crate::log::LogBudget;
use crate::stdio::LogPipe;

pub(crate) fn wasi_ctx(logs: &LogBudget) -> WasiCtx {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(LogPipe::stdout(logs.clone()))
        .stderr(LogPipe::stderr(logs.clone()))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    builder.build()
}
