//! Burns CPU on purpose: `?n=` rounds (default 1,000,000) of an integer mixing function, answering
//! the result. The CPU-heavy side of the CPU-budget benchmark, and a bounded job for budget tests.

use std::hint::black_box;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Compute;

fn mix(rounds: u64) -> u64 {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..rounds {
        state ^= round;
        state = state.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        state ^= state >> 31;
        state = black_box(state);
    }
    state
}

impl Guest for Compute {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let rounds = util::query_param(&request, "n").and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
        util::respond(out, 200, mix(rounds).to_string().as_bytes());
    }
}

wasi::http::proxy::export!(Compute);
