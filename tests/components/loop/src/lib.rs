//! A hostile app: it never answers, spinning forever. The runtime must stop it within its CPU
//! budget without slowing other apps.

use std::hint::black_box;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Spin;

impl Guest for Spin {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let mut counter = 0u64;
        loop {
            counter = black_box(counter.wrapping_add(1));
            if black_box(counter) == 0 {
                break;
            }
        }
        util::respond(out, 200, b"unreachable");
    }
}

wasi::http::proxy::export!(Spin);
