//! A hostile agent. The message picks the misbehaviour:
//! - `spin`: loops forever (stopped by its fuel);
//! - `grow`: allocates without end (stopped at its memory limit);
//! - `trap`: emits `agent:thinking`, then panics mid-turn;
//! - `huge`: answers 8 MiB of text (over the output limit);
//! - `ungranted`: writes kv, an artifact and an event, which it was not granted, and reports
//!   each answer;
//! - `fetch <authority>`: `GET http://<authority>/`, and reports what happened;
//! - `ping`: answers `pong` (to show the next call works).

use std::hint::black_box;

use vibe_agent_sdk::bindings::wasi::http::outgoing_handler;
use vibe_agent_sdk::bindings::wasi::http::types::{Fields, OutgoingRequest, Scheme};
use vibe_agent_sdk::prelude::*;

struct Hostile;

fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

fn grow() -> usize {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        blocks.push(vec![1u8; 1 << 20]);
        black_box(&blocks);
    }
}

fn fetch(authority: &str) -> Result<String, String> {
    let request = OutgoingRequest::new(Fields::new());
    request.set_scheme(Some(&Scheme::Http)).map_err(|()| "scheme".to_owned())?;
    request.set_authority(Some(authority)).map_err(|()| "authority".to_owned())?;
    request.set_path_with_query(Some("/")).map_err(|()| "path".to_owned())?;
    let pending = outgoing_handler::handle(request, None).map_err(|code| format!("refused: {code:?}"))?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or("no response")?
        .map_err(|()| "response taken twice".to_owned())?
        .map_err(|code| format!("failed: {code:?}"))?;
    Ok(format!("status {}", response.status()))
}

impl Agent for Hostile {
    fn describe() -> Description {
        describe("hostile", "0.1.0").serves("ideation").wants(Capability::Http).build()
    }

    fn handle_turn(turn: TurnInput) -> Result<TurnOutput, String> {
        let message = turn.message.content.as_str();
        let text = match message {
            "ping" => "pong".to_owned(),
            "spin" => spin(),
            "grow" => format!("{}", grow()),
            "trap" => {
                let _ = events::thinking("about to fail");
                panic!("hostile agent trapped mid-turn");
            }
            "huge" => "x".repeat(8 << 20),
            "ungranted" => format!(
                "kv: {:?}\npipeline: {:?}\nevents: {:?}\nllm: {:?}",
                kv::set("stolen", "yes"),
                pipeline::put_text("notes", "sneaky"),
                events::thinking("sneaky"),
                llm::ask(None, "hello"),
            ),
            other => match other.strip_prefix("fetch ") {
                Some(authority) => format!("fetch: {:?}", fetch(authority)),
                None => return Err(format!("unknown mode `{other}`")),
            },
        };
        Ok(Reply::new().say(text).into())
    }
}

vibe_agent_sdk::export_agent!(Hostile);
