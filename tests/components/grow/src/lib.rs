//! A hostile app: it allocates (and touches) one mebibyte after another until its memory cap
//! stops it.

use std::hint::black_box;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Grow;

impl Guest for Grow {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(black_box(vec![1u8; 1 << 20]));
            if black_box(hoard.len()) == usize::MAX {
                break;
            }
        }
        util::respond(out, 200, b"unreachable");
    }
}

wasi::http::proxy::export!(Grow);
