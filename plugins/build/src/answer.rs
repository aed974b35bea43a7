//! Reading the model's answer: one JSON object `{"files": {path: content}, "summary": "…"}`.
//! The answer is taken whole or refused whole: a single path outside `src/**.rs`, an oversized
//! file or a file that is not text refuses all of it (a model that tries to touch the manifest
//! or the migrations has misread the task, and its other changes are not trusted either).

use std::collections::BTreeMap;

use vibe_agent_sdk::serde_json::Value;
use vibe_guided::llm::extract_json;

use crate::code::{Code, MAX_CHANGE_BYTES, MAX_CHANGED_FILES, MAX_FILE_BYTES, editable};

/// The longest summary kept, in characters.
const MAX_SUMMARY_CHARS: usize = 600;

/// What the model proposes: the files it changes (only those that differ from the current
/// ones) and its summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fix {
    pub changes: BTreeMap<String, String>,
    pub summary: String,
}

/// Reads the model's answer to a repair of `current`; `Err` says why it is refused.
pub fn parse(text: &str, current: &Code) -> Result<Fix, String> {
    let answer = extract_json(text).ok_or("the answer is not a JSON object")?;
    let files = answer.get("files").and_then(Value::as_object).ok_or("the answer has no `files` object")?;
    if files.len() > MAX_CHANGED_FILES {
        return Err(format!("the answer changes {} files, more than {MAX_CHANGED_FILES}", files.len()));
    }
    let mut fix = Fix::default();
    let mut total = 0;
    for (path, content) in files {
        editable(path)?;
        let content = content.as_str().ok_or_else(|| format!("the content of `{path}` is not text"))?;
        if content.trim().is_empty() {
            return Err(format!("`{path}` would be empty"));
        }
        if content.len() > MAX_FILE_BYTES {
            return Err(format!("`{path}` is {} bytes, more than {MAX_FILE_BYTES}", content.len()));
        }
        total += content.len();
        if total > MAX_CHANGE_BYTES {
            return Err(format!("the answer writes more than {MAX_CHANGE_BYTES} bytes"));
        }
        if current.files.get(path).map(String::as_str) != Some(content) {
            fix.changes.insert(path.clone(), content.to_owned());
        }
    }
    let summary = answer.get("summary").and_then(Value::as_str).unwrap_or_default().trim();
    fix.summary = summary.chars().take(MAX_SUMMARY_CHARS).collect();
    Ok(fix)
}

/// The agent's account of `fix`: the files it changed and the model's summary.
pub fn account(fix: &Fix) -> String {
    let paths: Vec<&str> = fix.changes.keys().map(String::as_str).collect();
    match (paths.is_empty(), fix.summary.is_empty()) {
        (true, _) => "The model proposed no change to the code.".to_owned(),
        (false, true) => format!("Changed {}.", paths.join(", ")),
        (false, false) => format!("Changed {}: {}", paths.join(", "), fix.summary),
    }
}

#[cfg(test)]
mod tests {
    use vibe_agent_sdk::serde_json::{Map, json};

    use super::*;

    fn current() -> Code {
        Code {
            files: BTreeMap::from([
                ("src/lib.rs".to_owned(), "fn main() { titel }".to_owned()),
                ("src/pages.rs".to_owned(), "pub fn page() {}".to_owned()),
                ("migrations/0001_initial.sql".to_owned(), "CREATE TABLE books ();".to_owned()),
            ]),
        }
    }

    #[test]
    fn a_fix_is_read_from_plain_or_fenced_json_keeping_only_real_changes() {
        let answer = json!({
            "files": {"src/lib.rs": "fn main() { title }", "src/pages.rs": "pub fn page() {}"},
            "summary": "  Renamed `titel` to `title`. "
        });
        let fix = parse(&answer.to_string(), &current()).unwrap();
        assert_eq!(
            fix.changes,
            BTreeMap::from([("src/lib.rs".to_owned(), "fn main() { title }".to_owned())])
        );
        assert_eq!(fix.summary, "Renamed `titel` to `title`.");
        assert_eq!(account(&fix), "Changed src/lib.rs: Renamed `titel` to `title`.");

        let fenced = format!("Here you go:\n```json\n{answer}\n```\n");
        assert_eq!(parse(&fenced, &current()).unwrap(), fix);

        let new_module = json!({"files": {"src/helpers.rs": "pub fn help() {}"}});
        let fix = parse(&new_module.to_string(), &current()).unwrap();
        assert_eq!(account(&fix), "Changed src/helpers.rs.");

        let nothing = parse(r#"{"files": {}}"#, &current()).unwrap();
        assert!(nothing.changes.is_empty());
        assert_eq!(account(&nothing), "The model proposed no change to the code.");
    }

    #[test]
    fn an_answer_touching_anything_but_sources_is_refused_whole() {
        for path in ["migrations/x.sql", "../evil", "Cargo.toml", "src/../Cargo.toml", "/etc/passwd"] {
            let answer = json!({"files": {"src/lib.rs": "fn main() { title }", path: "x"}});
            let refusal = parse(&answer.to_string(), &current()).unwrap_err();
            assert!(refusal.contains(&format!("`{path}`")), "{path}: {refusal}");
        }
        let refusals = [
            ("I fixed it, trust me.", "not a JSON object"),
            (r#"{"summary": "done"}"#, "no `files`"),
            (r#"{"files": {"src/lib.rs": 42}}"#, "not text"),
            (r#"{"files": {"src/lib.rs": "  "}}"#, "would be empty"),
        ];
        for (answer, why) in refusals {
            let refusal = parse(answer, &current()).unwrap_err();
            assert!(refusal.contains(why), "{answer}: {refusal}");
        }
        let huge = json!({"files": {"src/lib.rs": "x".repeat(MAX_FILE_BYTES + 1)}});
        assert!(parse(&huge.to_string(), &current()).unwrap_err().contains("more than"));
        let many: Map<String, Value> =
            (0..=MAX_CHANGED_FILES).map(|n| (format!("src/m{n}.rs"), json!("fn f() {}"))).collect();
        let many = json!({ "files": many });
        assert!(parse(&many.to_string(), &current()).unwrap_err().contains("files, more than"));
        let bulky: Map<String, Value> =
            (0..5).map(|n| (format!("src/m{n}.rs"), json!("y".repeat(MAX_FILE_BYTES - 1)))).collect();
        let bulky = json!({ "files": bulky });
        assert!(parse(&bulky.to_string(), &current()).unwrap_err().contains("bytes"));
    }
}
