//! The app's code as the build agent sees it: the `code` artifact (`{"files": {path: content}}`,
//! written by the platform before each repair turn), the paths the agent may change, and how
//! much it may change at once.
//!
//! The platform owns the crate manifest and the migrations (they are applied to live data and
//! decide what the app may link), so the agent edits Rust sources under `src/` and nothing else.
//! The host checks the same rule again on what the agent writes: this side refuses a bad answer
//! early and says why.

use std::collections::BTreeMap;

use vibe_agent_sdk::serde_json::{self, Map, Value, json};

/// The artifact holding the app's files.
pub const ARTIFACT: &str = "code";
/// The largest file the agent writes, in bytes (a generated module is a few KiB to tens of KiB).
pub const MAX_FILE_BYTES: usize = 256 << 10;
/// The most files one answer may change.
pub const MAX_CHANGED_FILES: usize = 32;
/// The most bytes one answer may write in all.
pub const MAX_CHANGE_BYTES: usize = 1 << 20;
/// The longest path accepted.
const MAX_PATH_BYTES: usize = 200;

/// The files of the app, by path relative to the crate root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Code {
    pub files: BTreeMap<String, String>,
}

impl Code {
    /// Reads the `code` artifact's content.
    pub fn parse(content: &str) -> Result<Code, String> {
        let value: Value =
            serde_json::from_str(content).map_err(|error| format!("the code is not JSON: {error}"))?;
        let files = value.get("files").and_then(Value::as_object).ok_or("the code has no `files` object")?;
        let mut code = Code::default();
        for (path, content) in files {
            let content = content.as_str().ok_or_else(|| format!("the content of `{path}` is not text"))?;
            code.files.insert(path.clone(), content.to_owned());
        }
        Ok(code)
    }

    /// The artifact's content.
    pub fn to_json(&self) -> Value {
        let files: Map<String, Value> =
            self.files.iter().map(|(path, content)| (path.clone(), json!(content))).collect();
        json!({ "files": files })
    }

    /// These files with `changes` written over them.
    pub fn with(&self, changes: &BTreeMap<String, String>) -> Code {
        let mut files = self.files.clone();
        files.extend(changes.iter().map(|(path, content)| (path.clone(), content.clone())));
        Code { files }
    }

    /// The paths the agent may change, in order.
    pub fn editable_paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str).filter(|path| editable(path).is_ok())
    }
}

/// Whether the agent may write `path`: a Rust source file under `src/` (`src/lib.rs`,
/// `src/pages/books.rs`), every segment a plain name (letters, digits, `_`, `-`), no `..`,
/// nothing absolute, no backslash.
pub fn editable(path: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("`{}` {why}", shown(path)));
    if path.len() > MAX_PATH_BYTES {
        return refuse(&format!("is longer than {MAX_PATH_BYTES} bytes"));
    }
    let Some(inside) = path.strip_prefix("src/") else {
        return refuse("is not under src/ (the manifest and the migrations are the platform's)");
    };
    let Some(stem) = inside.strip_suffix(".rs") else {
        return refuse("is not a Rust source file (.rs)");
    };
    let plain = |segment: &str| {
        !segment.is_empty()
            && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && !segment.starts_with('-')
    };
    if !stem.split('/').all(plain) {
        return refuse("is not a plain relative path (letters, digits, `_`, `-` between slashes)");
    }
    Ok(())
}

/// `path` as quoted in a message: at most 80 characters, control characters escaped.
fn shown(path: &str) -> String {
    let short: String = path.chars().take(80).collect();
    short.escape_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rust_sources_under_src_are_editable() {
        for path in ["src/lib.rs", "src/pages/books.rs", "src/snack-list.rs", "src/a/b/c_d.rs"] {
            assert_eq!(editable(path), Ok(()), "{path}");
        }
        for path in [
            "migrations/0001_initial.sql",
            "migrations/x.sql",
            "Cargo.toml",
            "../evil",
            "src/../Cargo.toml",
            "src/../../evil.rs",
            "src//lib.rs",
            "src/./lib.rs",
            "/src/lib.rs",
            "src\\lib.rs",
            "src/lib.txt",
            "src/.rs",
            "src/-x.rs",
            "src/lib.rs\0",
            "build.rs",
        ] {
            assert!(editable(path).is_err(), "{path} must be refused");
        }
        let long = format!("src/{}.rs", "a".repeat(300));
        assert!(editable(&long).unwrap_err().contains("longer than"));
    }

    #[test]
    fn the_artifact_round_trips_and_changes_overlay_the_files() {
        let content =
            r#"{"files": {"src/lib.rs": "fn a() {}", "migrations/0001_initial.sql": "CREATE TABLE t ();"}}"#;
        let code = Code::parse(content).unwrap();
        assert_eq!(code.files.len(), 2);
        assert_eq!(Code::parse(&code.to_json().to_string()).unwrap(), code);
        assert_eq!(code.editable_paths().collect::<Vec<_>>(), ["src/lib.rs"]);

        let changed = code.with(&BTreeMap::from([("src/lib.rs".to_owned(), "fn b() {}".to_owned())]));
        assert_eq!(changed.files["src/lib.rs"], "fn b() {}");
        assert_eq!(changed.files["migrations/0001_initial.sql"], "CREATE TABLE t ();");

        assert!(Code::parse("[]").unwrap_err().contains("`files`"));
        assert!(Code::parse(r#"{"files": {"src/lib.rs": 3}}"#).unwrap_err().contains("not text"));
        assert!(Code::parse("nope").unwrap_err().contains("not JSON"));
    }
}
