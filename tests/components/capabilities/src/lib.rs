//! An app of the `vibe:app/app` world, its bindings generated with `wit-bindgen` from our WIT:
//! each request counts a visit in `kv`, reads `greeting` from `config`, lists the config names and
//! the `visit` keys, tries the database, logs, and answers what it saw, one fact per line.

wit_bindgen::generate!({
    path: [
        "../../../wit/deps/io.wit",
        "../../../wit/deps/clocks.wit",
        "../../../wit/deps/random.wit",
        "../../../wit/deps/filesystem.wit",
        "../../../wit/deps/sockets.wit",
        "../../../wit/deps/cli.wit",
        "../../../wit/deps/http.wit",
        "../../../wit/app@0.1.0",
    ],
    world: "vibe:app/app",
    generate_all,
});

use exports::wasi::http::incoming_handler::Guest;
use vibe::app::{config, db, kv, log};
use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct Capabilities;

fn visits() -> Result<u64, kv::Error> {
    let previous = kv::get("visits")?
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or(0);
    let visits = previous + 1;
    kv::set("visits", visits.to_string().as_bytes())?;
    kv::set(&format!("visit/{visits}"), b"seen")?;
    Ok(visits)
}

fn report() -> String {
    let mut lines = Vec::new();
    match visits() {
        Ok(visits) => lines.push(format!("visits: {visits}")),
        Err(error) => lines.push(format!("kv error: {error:?}")),
    }
    match kv::list_keys("visit/") {
        Ok(keys) => lines.push(format!("visit keys: {}", keys.join(","))),
        Err(error) => lines.push(format!("kv error: {error:?}")),
    }
    match kv::set("huge", &vec![0u8; 2 << 20]) {
        Ok(()) => lines.push("huge value: stored".to_owned()),
        Err(kv::Error::TooLarge(_)) => lines.push("huge value: too large".to_owned()),
        Err(error) => lines.push(format!("huge value: {error:?}")),
    }
    match config::get("greeting") {
        Ok(Some(greeting)) => lines.push(format!("greeting: {greeting}")),
        Ok(None) => lines.push("greeting: unset".to_owned()),
        Err(error) => lines.push(format!("config error: {error:?}")),
    }
    match config::get("missing") {
        Ok(None) => lines.push("missing: unset".to_owned()),
        other => lines.push(format!("missing: {other:?}")),
    }
    match config::list_names() {
        Ok(names) => lines.push(format!("config names: {}", names.join(","))),
        Err(error) => lines.push(format!("config error: {error:?}")),
    }
    match db::query("SELECT 1", &[]) {
        Ok(rows) => lines.push(format!("db rows: {}", rows.rows.len())),
        Err(db::Error::Unavailable(reason)) => lines.push(format!("db unavailable: {reason}")),
        Err(error) => lines.push(format!("db error: {error:?}")),
    }
    log::log(log::Level::Info, "capabilities served a request");
    lines.push(String::new());
    lines.join("\n")
}

impl Guest for Capabilities {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let body_text = report();
        let response = OutgoingResponse::new(Fields::new());
        let body = response.body().expect("the body is taken once");
        ResponseOutparam::set(out, Ok(response));
        let stream = body.write().expect("the stream is taken once");
        for chunk in body_text.as_bytes().chunks(4096) {
            stream.blocking_write_and_flush(chunk).expect("the host accepts the body");
        }
        drop(stream);
        OutgoingBody::finish(body, None).expect("the body is complete");
    }
}

export!(Capabilities);
