//! The `code` artifact (`{"files": {path: content}}`) and what the build agent may change in it.
//!
//! The platform owns the crate manifest and the migrations (they decide what the app links and
//! what happens to live data), so an agent's version of the code may differ from the generated
//! one only in Rust sources under `src/`. Whichever plugin is routed for the `build` type (an
//! operator may route a third party's), its changes pass this check before the pipeline sees them.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::build::codegen::GeneratedApp;

/// The longest path accepted.
const MAX_PATH_BYTES: usize = 200;

/// The artifact content for `app`'s files.
pub fn to_content(app: &GeneratedApp) -> String {
    let files: Map<String, Value> =
        app.files.iter().map(|(path, content)| (path.clone(), json!(content))).collect();
    json!({ "files": files }).to_string()
}

/// The files of a `code` artifact's content.
pub fn parse(content: &str) -> Result<BTreeMap<String, String>, String> {
    let value: Value =
        serde_json::from_str(content).map_err(|error| format!("the code is not JSON: {error}"))?;
    let files = value.get("files").and_then(Value::as_object).ok_or("the code has no `files` object")?;
    files
        .iter()
        .map(|(path, content)| match content.as_str() {
            Some(text) => Ok((path.clone(), text.to_owned())),
            None => Err(format!("the content of `{}` is not text", shown(path))),
        })
        .collect()
}

/// The files of `proposed` that differ from `app`'s, refused as a whole if one of them is not
/// [`editable`]. A file the proposal leaves out stays as it is (an agent cannot delete files).
pub fn changes(
    app: &GeneratedApp,
    proposed: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let mut changed = BTreeMap::new();
    for (path, content) in proposed {
        if app.files.get(path) == Some(content) {
            continue;
        }
        editable(path)?;
        changed.insert(path.clone(), content.clone());
    }
    Ok(changed)
}

/// `app` with `changes` written over its files.
pub fn apply(app: &GeneratedApp, changes: &BTreeMap<String, String>) -> GeneratedApp {
    let mut files = app.files.clone();
    files.extend(changes.iter().map(|(path, content)| (path.clone(), content.clone())));
    GeneratedApp { files }
}

/// Whether an agent may write `path`: a Rust source file under `src/`, every segment a plain name
/// (ASCII letters, digits, `_`, `-`), so no `..`, nothing absolute, no backslash.
pub fn editable(path: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("`{}` {why}", shown(path)));
    if path.len() > MAX_PATH_BYTES {
        return refuse(&format!("is longer than {MAX_PATH_BYTES} bytes"));
    }
    let Some(stem) = path.strip_prefix("src/").and_then(|inside| inside.strip_suffix(".rs")) else {
        return refuse(
            "is not a Rust source under src/ (the manifest and the migrations are the platform's)",
        );
    };
    let plain = |segment: &str| {
        !segment.is_empty()
            && !segment.starts_with('-')
            && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if !stem.split('/').all(plain) {
        return refuse("is not a plain relative path");
    }
    Ok(())
}

/// `path` as quoted in a message: at most 80 characters, control characters escaped.
fn shown(path: &str) -> String {
    path.chars().take(80).collect::<String>().escape_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> GeneratedApp {
        GeneratedApp {
            files: BTreeMap::from([
                ("src/lib.rs".to_owned(), "fn broken() { titel }".to_owned()),
                ("migrations/0001_initial.sql".to_owned(), "CREATE TABLE books ();".to_owned()),
            ]),
        }
    }

    #[test]
    fn only_changed_sources_under_src_pass() {
        let mut proposed = parse(&to_content(&app())).unwrap();
        assert_eq!(proposed, app().files, "the content round-trips");
        assert!(changes(&app(), &proposed).unwrap().is_empty(), "nothing changed");

        proposed.insert("src/lib.rs".to_owned(), "fn fixed() { title }".to_owned());
        proposed.insert("src/pages/books.rs".to_owned(), "pub fn list() {}".to_owned());
        proposed.remove("migrations/0001_initial.sql");
        let changed = changes(&app(), &proposed).unwrap();
        assert_eq!(changed.keys().collect::<Vec<_>>(), ["src/lib.rs", "src/pages/books.rs"]);
        let fixed = apply(&app(), &changed);
        assert_eq!(fixed.files["src/lib.rs"], "fn fixed() { title }");
        assert_eq!(fixed.files["migrations/0001_initial.sql"], "CREATE TABLE books ();", "kept");
    }

    #[test]
    fn the_manifest_migrations_and_escapes_are_refused_whole() {
        for path in [
            "migrations/0001_initial.sql",
            "migrations/x.sql",
            "Cargo.toml",
            "build.rs",
            "../evil",
            "src/../Cargo.toml",
            "src/../../evil.rs",
            "/src/lib.rs",
            "src\\lib.rs",
            "src//lib.rs",
            "src/./lib.rs",
            "src/lib.txt",
            "src/.rs",
        ] {
            let mut proposed = app().files;
            proposed.insert("src/lib.rs".to_owned(), "fn fixed() {}".to_owned());
            proposed.insert(path.to_owned(), "x".to_owned());
            let refusal = changes(&app(), &proposed).unwrap_err();
            assert!(refusal.starts_with(&format!("`{}`", path.escape_default())), "{path}: {refusal}");
        }
        assert!(editable(&format!("src/{}.rs", "a".repeat(300))).is_err());
        assert_eq!(editable("src/pages/snack-list.rs"), Ok(()));
    }

    #[test]
    fn malformed_content_is_refused() {
        assert!(parse("nope").unwrap_err().contains("not JSON"));
        assert!(parse("{}").unwrap_err().contains("`files`"));
        assert!(parse(r#"{"files": {"src/lib.rs": 1}}"#).unwrap_err().contains("not text"));
    }
}
