//! With an LLM configured: what the agents ask the model, and how they read its answers. Both
//! agents ask for JSON and accept it only when it parses into the same formats guided mode
//! produces; anything else sends them down the deterministic path for that turn.

use serde::Deserialize;
use serde_json::Value;

use crate::check;
use crate::interview::{Answers, Interview};

/// What the ideation agent asks the model for each turn (besides its system instructions).
pub fn ideation_prompt(interview: &Interview, message: &str) -> String {
    format!(
        "The interview so far (JSON): {}\n\nThe person just said: {message}\n\n\
         Answer with one JSON object and nothing else: {{\"reply\": \"what you say to the person (one \
         follow-up question at a time)\", \"answers\": {{\"problem\": ..., \"users\": ..., \"data\": ..., \
         \"pages\": ..., \"permissions\": ...}} (each a string in the person's words, or null while \
         unknown), \"complete\": true once every topic is answered or the person wants to move on}}.",
        serde_json::to_string(&interview.answers).unwrap_or_default()
    )
}

/// The model's answer to [`ideation_prompt`].
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ModelTurn {
    pub reply: String,
    #[serde(default)]
    pub answers: Answers,
    #[serde(default)]
    pub complete: bool,
}

/// Reads the model's answer; `None` if it is not the JSON asked for.
pub fn parse_ideation(text: &str) -> Option<ModelTurn> {
    let turn: ModelTurn = serde_json::from_value(extract_json(text)?).ok()?;
    (!turn.reply.trim().is_empty()).then_some(turn)
}

/// Takes the model's answers into `interview` (an answer it left out keeps the earlier one).
pub fn merge(interview: &mut Interview, turn: &ModelTurn) {
    for topic in crate::interview::Topic::ALL {
        if let Some(answer) = turn.answers.get(topic).map(str::trim).filter(|a| !a.is_empty()) {
            interview.answers.set(topic, answer.chars().take(2000).collect());
        }
    }
    interview.mode = "llm".to_owned();
    interview.asking = None;
    if turn.complete {
        interview.complete = true;
    }
}

/// What the spec agent asks the model for.
pub fn spec_prompt(interview: &Interview, example: &Value) -> String {
    format!(
        "The interview (JSON): {}\n\nWrite the app's spec as one JSON object and nothing else, in exactly \
         the format of this example spec (spec_version 1; same keys; field types string, text, integer, \
         decimal, boolean, date, datetime, email, url, enum, reference): {}",
        serde_json::to_string(&interview.answers).unwrap_or_default(),
        example
    )
}

/// Reads the spec the model proposed; `None` unless it is a JSON object that passes [`check::problems`].
pub fn parse_spec(text: &str) -> Option<Value> {
    let spec = extract_json(text)?;
    check::problems(&spec).is_empty().then_some(spec)
}

/// The JSON object in a model's answer: the whole text, a fenced block, or the span from the first
/// `{` to the last `}`.
pub fn extract_json(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if let Ok(value @ Value::Object(_)) = serde_json::from_str(trimmed) {
        return Some(value);
    }
    let start = trimmed.find('{')?;
    let end = trimmed.rfind('}')?;
    match serde_json::from_str(trimmed.get(start..=end)?) {
        Ok(value @ Value::Object(_)) => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_answers_are_read_or_refused() {
        let fenced = "Sure!\n```json\n{\"reply\": \"Who uses it?\", \"answers\": {\"problem\": \"book club\"}, \"complete\": false}\n```";
        let turn = parse_ideation(fenced).expect("a fenced answer parses");
        assert_eq!(turn.reply, "Who uses it?");
        assert_eq!(turn.answers.problem.as_deref(), Some("book club"));
        assert!(parse_ideation("I think you should ask about users").is_none());
        assert!(parse_ideation("{\"reply\": \"\"}").is_none(), "an empty reply is refused");
        assert!(parse_ideation("{\"answers\": {}}").is_none(), "a reply is required");

        let mut interview = Interview::default();
        interview.answers.users = Some("members".into());
        merge(&mut interview, &turn);
        assert_eq!(interview.answers.users.as_deref(), Some("members"), "kept");
        assert_eq!(interview.mode, "llm");

        assert!(parse_spec("{\"spec_version\": 1}").is_none(), "an incomplete spec is refused");
        assert!(parse_spec("no json at all").is_none());
    }
}
