//! Panics (a trap, for the host) on `/trap`; answers `ok` on any other path, to show that a trap
//! never poisons the next request.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Trap;

impl Guest for Trap {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        if util::path(&request) == "/trap" {
            panic!("asked to trap");
        }
        util::respond(out, 200, b"ok");
    }
}

wasi::http::proxy::export!(Trap);
