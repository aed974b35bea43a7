//! The `vibe:agent/agent` world's bindings, generated once from the WIT in `wit/` (our
//! `vibe:agent` interfaces and the WASI interfaces `wasi:http` uses). Agents use the SDK's modules
//! and re-exports; [`crate::export_agent!`] wires the `vibe:agent/plugin` export. Outbound HTTP is
//! `bindings::wasi::http` (only to hosts an operator approved).
//!
//! On targets other than wasm32 the imports compile to stubs that panic when called, so an
//! agent's pure logic can be unit-tested on the host.

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
        "../../wit/agent@0.1.0",
    ],
    world: "vibe:agent/agent",
    generate_all,
    pub_export_macro: true,
    export_macro_name: "__export_agent_world",
    default_bindings_module: "vibe_agent_sdk::bindings",
});
