//! A deliberately hostile app of the `vibe:app/app` world: it runs whatever SQL the request body
//! holds through `vibe:app/db`, as a tenant trying to escape its schema would. `POST /query` answers
//! the rows (`200`, one line per row, values separated by tabs) and `POST /execute` the number of rows
//! affected; a refused statement answers `400 error: <the database's words>`. `GET /page` answers an
//! HTML page (for the Vibe Wrapper), any other `GET` a plain `sql console`.

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
use vibe::app::db::{self, Value};
use wasi::http::types::{Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam};
use wasi::io::streams::StreamError;

struct Console;

/// The request body as text (at most 1 MiB).
fn body_text(request: IncomingRequest) -> String {
    let mut bytes = Vec::new();
    if let Ok(body) = request.consume()
        && let Ok(stream) = body.stream()
    {
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(_) => break,
            }
            if bytes.len() > 1 << 20 {
                break;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn show(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::Boolean(b) => b.to_string(),
        Value::Int64(n) => n.to_string(),
        Value::Float64(f) => f.to_string(),
        Value::Text(t) | Value::Json(t) => t.clone(),
        Value::Bytes(b) => format!("\\x{}", b.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        Value::Timestamp(t) => t.to_string(),
    }
}

fn describe(error: &db::Error) -> String {
    match error {
        db::Error::Sql(sql) => format!("{} ({})", sql.message, sql.sqlstate),
        db::Error::Timeout => "timeout".to_owned(),
        other => format!("{other:?}"),
    }
}

fn respond(out: ResponseOutparam, status: u16, content_type: &str, text: &str) {
    let headers = Fields::new();
    let _ = headers.append("content-type", content_type.as_bytes());
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let body = response.body().expect("the body is taken once");
    ResponseOutparam::set(out, Ok(response));
    let stream = body.write().expect("the stream is taken once");
    for chunk in text.as_bytes().chunks(4096) {
        stream.blocking_write_and_flush(chunk).expect("the host accepts the body");
    }
    drop(stream);
    OutgoingBody::finish(body, None).expect("the body is complete");
}

impl Guest for Console {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default().to_owned();
        let method = request.method();
        match (method, path.as_str()) {
            (Method::Post, "/query") => {
                let sql = body_text(request);
                match db::query(&sql, &[]) {
                    Ok(rows) => {
                        let lines: Vec<String> = rows
                            .rows
                            .iter()
                            .map(|row| row.iter().map(show).collect::<Vec<_>>().join("\t"))
                            .collect();
                        let text = format!("{}\n", lines.join("\n"));
                        respond(out, 200, "text/plain; charset=utf-8", &text);
                    }
                    Err(error) => respond(out, 400, "text/plain; charset=utf-8", &format!("error: {}", describe(&error))),
                }
            }
            (Method::Post, "/execute") => {
                let sql = body_text(request);
                match db::execute(&sql, &[]) {
                    Ok(count) => respond(out, 200, "text/plain; charset=utf-8", &format!("{count}\n")),
                    Err(error) => respond(out, 400, "text/plain; charset=utf-8", &format!("error: {}", describe(&error))),
                }
            }
            (_, "/page") => respond(
                out,
                200,
                "text/html; charset=utf-8",
                "<!doctype html><html><head><title>console</title></head><body><h1>sql console</h1></body></html>",
            ),
            _ => respond(out, 200, "text/plain; charset=utf-8", "sql console\n"),
        }
    }
}

export!(Console);
