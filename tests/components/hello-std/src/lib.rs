//! A standard `wasi:http` component, written with the ordinary `wasi` crate and nothing of Vibe's:
//! it answers `hello from <path>`. The same file runs unchanged under `wasmtime serve`.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Hello;

impl Guest for Hello {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let body = format!("hello from {}\n", util::path(&request));
        util::respond(out, 200, body.as_bytes());
    }
}

wasi::http::proxy::export!(Hello);
