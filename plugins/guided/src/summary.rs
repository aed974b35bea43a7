//! What the agents say and hand on: the idea's summary (the `idea-summary` artifact and the
//! ideation agent's closing reply) and a readable account of a spec (the spec agent's reply).

use serde_json::{Value, json};

use crate::interview::{Interview, Topic};

/// The `format` of the idea-summary artifact.
pub const IDEA_SUMMARY_FORMAT: &str = "vibe-idea-summary/1";

/// How each topic is headed in the summary.
fn heading(topic: Topic) -> &'static str {
    match topic {
        Topic::Problem => "The problem",
        Topic::Users => "Who uses it",
        Topic::Data => "What it keeps track of",
        Topic::Pages => "Pages and actions",
        Topic::Permissions => "Who may do what",
    }
}

/// The idea-summary artifact of a complete interview.
pub fn idea_summary(interview: &Interview) -> Value {
    let answers = &interview.answers;
    let skipped: Vec<Topic> = interview.skipped.clone();
    json!({
        "format": IDEA_SUMMARY_FORMAT,
        "summary": idea_text(interview),
        "problem": answers.problem,
        "users": answers.users,
        "tracks": answers.data,
        "pages": answers.pages,
        "permissions": answers.permissions,
        "skipped": skipped,
        "opening": interview.opening,
    })
}

/// One line per topic: the answer, or that a default will be chosen.
pub fn idea_text(interview: &Interview) -> String {
    Topic::ALL
        .into_iter()
        .map(|topic| match interview.answers.get(topic) {
            Some(answer) => format!("- {}: {}", heading(topic), answer.trim()),
            None => format!("- {}: (skipped; a sensible default will be chosen)", heading(topic)),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The ideation agent's closing reply.
pub fn closing_reply(interview: &Interview) -> String {
    format!(
        "Thanks, that's everything I need. Here is your idea:\n\n{}\n\n\
         Next, I'll turn this into a specification of your app (its data, pages and who may do what) \
         for you to review.",
        idea_text(interview)
    )
}

/// A readable account of `spec` that ends by asking the owner to confirm it.
pub fn spec_text(spec: &Value) -> String {
    let text = |value: &Value| value.as_str().unwrap_or("").to_owned();
    let list = |value: &Value| -> Vec<Value> { value.as_array().cloned().unwrap_or_default() };
    let mut out = format!(
        "Here is the spec of **{}**: {}\n\n",
        text(&spec["app"]["name"]),
        text(&spec["app"]["summary"])
    );
    out.push_str("What it keeps track of:\n");
    for entity in list(&spec["entities"]) {
        let fields: Vec<String> = list(&entity["fields"])
            .iter()
            .map(|field| {
                let kind = match field["type"].as_str() {
                    Some("reference") => format!("link to {}", text(&field["entity"])),
                    Some(other) => other.to_owned(),
                    None => "?".to_owned(),
                };
                let required = if field["required"] == true { ", required" } else { "" };
                format!("{} ({kind}{required})", text(&field["label"]))
            })
            .collect();
        out.push_str(&format!("- {}: {}\n", text(&entity["label_plural"]), fields.join(", ")));
    }
    out.push_str("\nWho may do what:\n");
    for role in list(&spec["roles"]) {
        let name = text(&role["name"]);
        let grants: Vec<String> = list(&spec["permissions"])
            .iter()
            .filter(|grant| grant["role"] == name.as_str())
            .map(|grant| {
                let allow: Vec<String> = list(&grant["allow"]).iter().map(text).collect();
                format!("{} {}", allow.join("/"), text(&grant["entity"]))
            })
            .collect();
        let grants = if grants.is_empty() { "nothing".to_owned() } else { grants.join("; ") };
        out.push_str(&format!("- {}: {grants}\n", text(&role["label"])));
    }
    let pages = list(&spec["pages"]).len();
    let actions = list(&spec["actions"]).len();
    let samples = list(&spec["sample_data"]).len();
    out.push_str(&format!(
        "\n{pages} pages, {actions} actions and {samples} sample records.\n\n\
         Does this look right? Confirm the spec to start building, or tell me what to change."
    ));
    out
}
