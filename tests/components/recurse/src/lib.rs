//! A hostile app: it recurses without end until its stack overflows.

use std::hint::black_box;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Recurse;

#[inline(never)]
#[allow(unconditional_recursion, reason = "recursing without end is the point")]
fn descend(depth: u64, scratch: [u64; 8]) -> u64 {
    let next = black_box(scratch);
    if black_box(depth) == u64::MAX {
        return depth;
    }
    black_box(descend(depth + 1, next)) + next[0]
}

impl Guest for Recurse {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let depth = descend(0, black_box([1; 8]));
        util::respond(out, 200, format!("{depth}").as_bytes());
    }
}

wasi::http::proxy::export!(Recurse);
