//! Makes an outbound `GET http://<authority>/` for the request's `?to=<authority>` and answers
//! `200 upstream <status>` on success or `502 <error code>` when the host refuses or it fails.

use std::io::Read;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, IncomingRequest, OutgoingRequest, ResponseOutparam, Scheme};

struct Outbound;

fn fetch(authority: &str) -> Result<String, String> {
    let request = OutgoingRequest::new(Fields::new());
    request.set_scheme(Some(&Scheme::Http)).map_err(|()| "scheme".to_owned())?;
    request.set_authority(Some(authority)).map_err(|()| "authority".to_owned())?;
    request.set_path_with_query(Some("/")).map_err(|()| "path".to_owned())?;
    let pending = outgoing_handler::handle(request, None).map_err(|code| format!("{code:?}"))?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or("no response")?
        .map_err(|()| "response taken twice".to_owned())?
        .map_err(|code| format!("{code:?}"))?;
    let status = response.status();
    let body = response.consume().map_err(|()| "body".to_owned())?;
    let mut text = String::new();
    if let Ok(mut stream) = body.stream() {
        let _ = stream.read_to_string(&mut text);
    }
    Ok(format!("upstream {status} {text}"))
}

impl Guest for Outbound {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let authority = util::query_param(&request, "to").unwrap_or_default();
        match fetch(&authority) {
            Ok(text) => util::respond(out, 200, text.as_bytes()),
            Err(error) => util::respond(out, 502, error.as_bytes()),
        }
    }
}

wasi::http::proxy::export!(Outbound);
