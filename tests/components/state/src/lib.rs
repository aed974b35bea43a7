//! Counts the requests it has served in a global and answers the count. With a fresh instance per
//! request the answer is always 1: nothing one request leaves behind reaches the next.

use std::sync::atomic::{AtomicU64, Ordering};

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

static SERVED: AtomicU64 = AtomicU64::new(0);

struct State;

impl Guest for State {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let served = SERVED.fetch_add(1, Ordering::SeqCst) + 1;
        util::respond(out, 200, served.to_string().as_bytes());
    }
}

wasi::http::proxy::export!(State);
