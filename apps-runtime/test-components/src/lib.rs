//! The guest components of `tests/components`, built from source by this crate's build script
//! (as wasmtime's `test-programs-artifacts` does): one constant per component, holding the
//! absolute path of its `.wasm` file, named after the crate (`hello-std` → [`HELLO_STD`]).

include!(concat!(env!("OUT_DIR"), "/components.rs"));
