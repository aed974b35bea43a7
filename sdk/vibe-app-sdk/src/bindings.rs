//! The `vibe:app/app` world's bindings, generated once from the WIT in `wit/` (our `vibe:app`
//! imports and the WASI interfaces they use). Apps never touch these directly: the SDK's modules
//! wrap them, and [`crate::export!`] wires the `wasi:http/incoming-handler` export.
//!
//! On targets other than wasm32 the imports compile to stubs that panic when called, so the rest
//! of the SDK (and an app's pure logic) can be unit-tested on the host.

#![allow(unsafe_code, missing_docs, clippy::all)]

wit_bindgen::generate!({
    path: [
        "../../wit/deps/io.wit",
        "../../wit/deps/clocks.wit",
        "../../wit/deps/random.wit",
        "../../wit/deps/filesystem.wit",
        "../../wit/deps/sockets.wit",
        "../../wit/deps/cli.wit",
        "../../wit/deps/http.wit",
        "../../wit/app@0.1.0",
    ],
    world: "vibe:app/app",
    generate_all,
    pub_export_macro: true,
    export_macro_name: "__export_app_world",
    default_bindings_module: "vibe_app_sdk::bindings",
});
