//! The host side of the `vibe:app/app` world (wit/app@0.1.0): the one `bindgen!` for it, and the
//! linker every app is instantiated with.
//!
//! The linker grants exactly: WASI 0.2 (sandboxed by the per-request context, see `sandbox.rs`:
//! no environment, arguments, directories or sockets), `wasi:http` (outbound requests filtered by
//! the app's allow-list, see `outbound.rs`), and `vibe:app/{db,kv,config,log}` (dispatched to the
//! embedder's backends, see `db.rs`, `kv.rs`, `config.rs`, `log.rs`). A component importing
//! anything else is refused at load.

use wasmtime::component::{HasSelf, Linker};

use crate::state::RequestState;

mod generated {
    wasmtime::component::bindgen!({
        path: [
            "../wit/deps/io.wit",
            "../wit/deps/clocks.wit",
            "../wit/deps/random.wit",
            "../wit/deps/filesystem.wit",
            "../wit/deps/sockets.wit",
            "../wit/deps/cli.wit",
            "../wit/deps/http.wit",
            "../wit/app@0.1.0",
        ],
        world: "vibe:app/app",
        imports: { default: async | trappable },
        exports: { default: async },
        require_store_data_send: true,
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
    });
}

pub(crate) use generated::AppPre;
pub use generated::vibe::app::{config, db, kv, log};

/// A linker with everything an app may import.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<RequestState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    db::add_to_linker::<_, HasSelf<RequestState>>(&mut linker, |state| state)?;
    kv::add_to_linker::<_, HasSelf<RequestState>>(&mut linker, |state| state)?;
    config::add_to_linker::<_, HasSelf<RequestState>>(&mut linker, |state| state)?;
    log::add_to_linker::<_, HasSelf<RequestState>>(&mut linker, |state| state)?;
    Ok(linker)
}
