//! `vibe-guided`: what the first-party ideation and spec agents know without a model. Guided mode
//! (no LLM provider configured) runs on it entirely; with a model, the agents fall back to it
//! whenever the model's answer does not parse.
//!
//! - [`interview`]: the structured interview, one question per turn, kept in the `interview`
//!   artifact; [`summary`]: the idea's summary and a readable account of a spec.
//! - [`spec`]: the app spec derived from the answers (`entities` from what they keep track of,
//!   `roles` from who may do what, `sample` data, safe `names`); [`check`]: a spec's shape.
//! - [`llm`]: the prompts, and reading what a model answers.
//!
//! No WIT bindings here: `cargo test` in `plugins/` runs all of it natively.

pub mod check;
pub mod entities;
pub mod interview;
pub mod llm;
pub mod model;
pub mod names;
pub mod roles;
pub mod sample;
pub mod spec;
pub mod summary;
pub mod words;

/// The artifact names the agents read and write (the orchestrator and the UI read them too).
pub mod artifacts {
    /// The interview so far (JSON, [`crate::interview::Interview`]); written by the ideation agent
    /// during each turn, read by the spec agent.
    pub const INTERVIEW: &str = "interview";
    /// The idea's summary (JSON, [`crate::summary::idea_summary`]); written when the interview ends.
    pub const IDEA_SUMMARY: &str = "idea-summary";
    /// The app spec (JSON, `host/schemas/app-spec-v1.schema.json`); written by the spec agent.
    pub const SPEC: &str = "spec";
}

/// The agent types (pipeline stages) of the first-party agents.
pub mod stages {
    /// The ideation agent's stage.
    pub const IDEATION: &str = "ideation";
    /// The spec agent's stage, which ideation hands off to.
    pub const SPEC: &str = "spec";
}

#[cfg(test)]
mod tests {
    use crate::interview::Interview;
    use crate::{check, spec, summary};

    /// The conversation the issue names, start to spec.
    #[test]
    fn the_book_club_conversation_ends_in_a_spec_with_books_and_snack_assignments() {
        let mut interview = Interview::default();
        let said = [
            "I want an app for my book club to track what we read and who brings snacks",
            "The members of our club, about ten people, and me as the organiser",
            "books with title, author and date read; meetings with date and host; snacks: who brings what",
            "a list of books, the meeting calendar and a snack sign-up",
            "I manage the books and meetings, members sign up for snacks, anyone can see the books",
        ];
        for (turn, message) in said.iter().enumerate() {
            let step = interview.take(message);
            assert_eq!(step.finished, turn == said.len() - 1, "turn {turn}: {}", step.reply);
        }
        assert!(interview.skipped.is_empty());
        let closing = summary::closing_reply(&interview);
        assert!(closing.contains("snacks: who brings what"), "{closing}");

        let spec = spec::from_interview(&interview);
        assert_eq!(check::problems(&spec), Vec::<String>::new(), "{spec:#}");
        assert_eq!(spec["app"]["name"], "Book Club");
        assert_eq!(spec["app"]["slug"], "book-club");
        let entities: Vec<&str> =
            spec["entities"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(entities, ["book", "meeting", "snack_assignment"]);
        let book = &spec["entities"][0];
        assert_eq!(book["display_field"], "title");
        assert_eq!(book["fields"][2]["name"], "date_read");
        assert_eq!(book["fields"][2]["type"], "date");
        let meeting_fields: Vec<&str> = spec["entities"][1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(meeting_fields, ["meeting_date", "host"], "`date` is reserved in SQL");
        let snack = &spec["entities"][2];
        assert_eq!(snack["fields"][2]["type"], "reference");
        assert_eq!(snack["fields"][2]["entity"], "meeting");
        assert_eq!(spec["default_roles"]["owner"], "organizer");
        assert_eq!(spec["default_roles"]["signed_in"], "member");
        assert_eq!(spec["default_roles"]["anonymous"], "visitor");
        let member_snacks = spec["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["role"] == "member" && p["entity"] == "snack_assignment")
            .expect("members may sign up for snacks");
        assert_eq!(member_snacks["allow"], serde_json::json!(["read", "create"]));
        assert_eq!(spec["sample_data"].as_array().unwrap().len(), 6);
        assert_eq!(spec, spec::from_interview(&interview), "deterministic");

        let text = summary::spec_text(&spec);
        assert!(text.contains("Snack Assignments") && text.contains("Confirm"), "{text}");
    }

    #[test]
    fn a_skipped_interview_still_gives_a_valid_spec() {
        let mut interview = Interview::default();
        interview.take("I want an app for my book club to track what we read and who brings snacks");
        interview.take("done");
        let spec = spec::from_interview(&interview);
        assert_eq!(check::problems(&spec), Vec::<String>::new(), "{spec:#}");
        let entities: Vec<&str> =
            spec["entities"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(entities, ["snack_assignment"], "found in the opening");

        let mut nothing = Interview::default();
        nothing.take("hello");
        nothing.take("done");
        let spec = spec::from_interview(&nothing);
        assert_eq!(check::problems(&spec), Vec::<String>::new(), "{spec:#}");
        assert_eq!(spec["entities"][0]["name"], "item");
    }
}
