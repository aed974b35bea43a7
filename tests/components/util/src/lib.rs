//! Helpers shared by the test components that use the ordinary `wasi` crate: reading a query
//! parameter and answering with a status and a body.

use std::io::Write;

use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

/// The value of query parameter `name` in the request's path, if present.
pub fn query_param(request: &IncomingRequest, name: &str) -> Option<String> {
    let path = request.path_with_query()?;
    let (_, query) = path.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| value.to_owned())
    })
}

/// The request's path without its query.
pub fn path(request: &IncomingRequest) -> String {
    let path = request.path_with_query().unwrap_or_default();
    path.split('?').next().unwrap_or_default().to_owned()
}

/// Answers with `status`, a `text/plain` content type and `body`.
pub fn respond(out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = Fields::new();
    headers.append("content-type", b"text/plain; charset=utf-8").expect("content-type is a valid header");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("status is valid");
    let outgoing = response.body().expect("the body is taken once");
    ResponseOutparam::set(out, Ok(response));
    let mut stream = outgoing.write().expect("the stream is taken once");
    stream.write_all(body).expect("the host accepts the body");
    stream.flush().expect("the host accepts the body");
    drop(stream);
    OutgoingBody::finish(outgoing, None).expect("the body is complete");
}
