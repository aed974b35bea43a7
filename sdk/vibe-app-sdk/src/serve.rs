//! The `wasi:http/incoming-handler` side: reads the incoming request whole into a [`Request`],
//! lets the app's [`Router`] answer, and writes the [`Response`] out. [`crate::export!`] calls
//! [`handle`] from the component's export.
//!
//! On wasm32 a panic aborts the instance (the target's standard library cannot unwind), so the
//! runtime answers 500 with a request id; the panic hook installed here first writes the panic's
//! message and place to the app's log, where the owner sees it.

use std::sync::Once;

use crate::bindings::wasi::http::types::{
    Fields, IncomingRequest, Method as WasiMethod, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use crate::bindings::wasi::io::streams::StreamError;
use crate::request::{Method, Request};
use crate::response::Response;
use crate::router::Router;

/// The most bytes written to the output stream in one call (`blocking-write-and-flush` takes at
/// most 4096).
const CHUNK: usize = 4096;

/// Serves one request with the router `app` builds. Called by [`crate::export!`].
#[doc(hidden)]
pub fn handle(incoming: IncomingRequest, out: ResponseOutparam, app: fn() -> Router) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            crate::log::write(crate::log::Level::Error, &format!("the app panicked: {info}"));
        }));
    });
    let response = match read(&incoming) {
        Ok(request) => app().handle(request),
        Err(why) => crate::Error::bad_request(why).into_response(false),
    };
    drop(incoming);
    write(out, response);
}

fn read(incoming: &IncomingRequest) -> Result<Request, String> {
    let method = match incoming.method() {
        WasiMethod::Get => Method::Get,
        WasiMethod::Head => Method::Head,
        WasiMethod::Post => Method::Post,
        WasiMethod::Put => Method::Put,
        WasiMethod::Patch => Method::Patch,
        WasiMethod::Delete => Method::Delete,
        WasiMethod::Options => Method::Options,
        WasiMethod::Connect => Method::Other("CONNECT".to_owned()),
        WasiMethod::Trace => Method::Other("TRACE".to_owned()),
        WasiMethod::Other(name) => Method::Other(name),
    };
    let target = incoming.path_with_query().unwrap_or_else(|| "/".to_owned());
    let mut request = Request::new(method, &target);
    let mut has_host = false;
    for (name, value) in incoming.headers().entries() {
        has_host |= name.eq_ignore_ascii_case("host");
        // A header that is not text is not one the app could use; it is left out.
        if let Ok(value) = String::from_utf8(value) {
            request = request.with_header(&name, value);
        }
    }
    if let (false, Some(authority)) = (has_host, incoming.authority()) {
        request = request.with_header("host", authority);
    }
    Ok(request.with_body(read_body(incoming)?))
}

fn read_body(incoming: &IncomingRequest) -> Result<Vec<u8>, String> {
    let body = incoming.consume().map_err(|()| "the request body was already taken".to_owned())?;
    let mut bytes = Vec::new();
    {
        let stream = body.stream().map_err(|()| "the request body cannot be read".to_owned())?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(error)) => {
                    return Err(format!("the request body could not be read: {}", error.to_debug_string()));
                }
            }
        }
    }
    drop(body);
    Ok(bytes)
}

fn write(out: ResponseOutparam, response: Response) {
    let (status, headers, body) = response.into_parts();
    let fields = Fields::new();
    for (name, value) in &headers {
        if fields.append(name, value.as_bytes()).is_err() {
            crate::log::write(crate::log::Level::Warn, &format!("response header `{name}` was refused"));
        }
    }
    let outgoing = OutgoingResponse::new(fields);
    if outgoing.set_status_code(status).is_err() {
        crate::log::write(
            crate::log::Level::Error,
            &format!("invalid response status {status}; answered 500"),
        );
        let _ = outgoing.set_status_code(500);
    }
    let Ok(outgoing_body) = outgoing.body() else {
        ResponseOutparam::set(out, Ok(outgoing));
        return;
    };
    ResponseOutparam::set(out, Ok(outgoing));
    if let Ok(stream) = outgoing_body.write() {
        for chunk in body.chunks(CHUNK) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                // The client is gone (or the host refused the body): nothing more to send.
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing_body, None);
}
