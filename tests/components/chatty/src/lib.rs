//! Writes to stdout and stderr: three lines on any path, and on `/flood` a megabyte of lines more,
//! to show that the host captures output line by line into the app's log and caps it.

use std::io::Write;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Chatty;

impl Guest for Chatty {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        println!("first line on stdout");
        print!("second line ");
        println!("on stdout");
        eprintln!("a line on stderr");
        if util::path(&request) == "/flood" {
            let line = "flood ".repeat(16);
            let mut stdout = std::io::stdout();
            for _ in 0..(1 << 20) / line.len() {
                let _ = writeln!(stdout, "{line}");
            }
        }
        let _ = std::io::stdout().flush();
        util::respond(out, 200, b"said it");
    }
}

wasi::http::proxy::export!(Chatty);
