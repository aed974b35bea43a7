//! Looks around its sandbox with plain Rust std and reports one line per probe: environment
//! variables, arguments, the filesystem root, and a TCP connection to `?to=<ip:port>`. In Vibe's
//! sandbox every probe must come back empty or refused.

use std::io::Read;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Probe;

fn outcome<T, E: std::fmt::Display>(result: Result<T, E>) -> String {
    match result {
        Ok(_) => "allowed".to_owned(),
        Err(error) => format!("refused ({error})"),
    }
}

impl Guest for Probe {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let target = util::query_param(&request, "to").unwrap_or_default();
        let lines = [
            format!("env: {}", std::env::vars().count()),
            format!("args: {}", std::env::args().count()),
            format!("read dir /: {}", outcome(std::fs::read_dir("/"))),
            format!("read dir .: {}", outcome(std::fs::read_dir("."))),
            format!("open /etc/passwd: {}", outcome(std::fs::File::open("/etc/passwd"))),
            format!("create file: {}", outcome(std::fs::File::create("planted.txt"))),
            format!(
                "tcp {target}: {}",
                outcome(std::net::TcpStream::connect(target.as_str()).and_then(|mut stream| {
                    let mut byte = [0u8; 1];
                    stream.read(&mut byte)
                }))
            ),
        ];
        util::respond(out, 200, lines.join("\n").as_bytes());
    }
}

wasi::http::proxy::export!(Probe);
