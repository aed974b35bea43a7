//! A hostile app: it answers 200 and then streams a body of `?mib=` mebibytes (64 by default),
//! far past any sane response limit.

use std::io::Write;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct BigBody;

impl Guest for BigBody {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let mib: usize = util::query_param(&request, "mib").and_then(|v| v.parse().ok()).unwrap_or(64);
        let response = OutgoingResponse::new(Fields::new());
        let body = response.body().expect("the body is taken once");
        ResponseOutparam::set(out, Ok(response));
        let mut stream = body.write().expect("the stream is taken once");
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..mib * 16 {
            if stream.write_all(&chunk).is_err() {
                // The host stopped reading: nothing more to do.
                return;
            }
        }
        drop(stream);
        let _ = OutgoingBody::finish(body, None);
    }
}

wasi::http::proxy::export!(BigBody);
