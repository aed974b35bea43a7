//! A Vibe agent plugin made from the SDK's template: it greets, remembers how many turns it took
//! on this idea, and writes the idea's summary artifact. Replace the logic with your own.

use vibe_agent_sdk::prelude::*;

struct MyAgent;

impl Agent for MyAgent {
    fn describe() -> Description {
        describe("my-agent", "0.1.0")
            .serves("ideation")
            .wants(Capability::Kv)
            .wants(Capability::Events)
            .wants(Capability::Llm)
            .build()
    }

    fn handle_turn(turn: TurnInput) -> Result<TurnOutput, String> {
        let _ = events::thinking("reading your idea");
        let turns =
            kv::get_string("turns").ok().flatten().and_then(|text| text.parse::<u32>().ok()).unwrap_or(0) + 1;
        let _ = kv::set("turns", turns.to_string());
        // With no LLM provider configured (guided mode) this fails; answer deterministically then.
        let answer = llm::ask(Some("You help people shape app ideas."), &turn.message.content)
            .unwrap_or_else(|_| format!("Noted: {}. What should the app do first?", turn.message.content));
        Ok(Reply::new()
            .say(format!("({turns}) {answer}"))
            .write_text("summary", &turn.message.content)
            .into())
    }
}

vibe_agent_sdk::export_agent!(MyAgent);
