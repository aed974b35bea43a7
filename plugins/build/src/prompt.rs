//! What the build agent asks the model: the spec, the errors, what it answered earlier in this
//! build, and the files that matter, within a budget the gateway accepts (its default request
//! limit is 256 KiB; an app's code may be larger).
//!
//! Files go in this order until the budget is spent: the files the errors name (the compiler's
//! `--> src/pages/books.rs:12:5`, a test's path), the migrations (read-only: they say which
//! columns exist), then the other sources. Files left out are listed by name, so the model knows
//! they exist.

use vibe_agent_sdk::serde_json::Value;

use crate::code::{Code, editable};

/// The largest prompt, in bytes.
pub const MAX_PROMPT_BYTES: usize = 160 << 10;
/// The most error text shown (compilers repeat themselves; the first errors are the ones to fix).
pub const MAX_ERROR_BYTES: usize = 24 << 10;
/// The largest spec shown in full.
const MAX_SPEC_BYTES: usize = 48 << 10;
/// The most text of earlier attempts shown.
const MAX_EARLIER_BYTES: usize = 4 << 10;

/// The prompt for fixing `errors` in `code` of the app `spec` describes; `earlier` holds what
/// the agent answered on earlier attempts of this build, oldest first.
pub fn prompt(spec: Option<&Value>, code: &Code, errors: &str, earlier: &[String]) -> String {
    let mut out = String::new();
    match spec.map(Value::to_string) {
        Some(spec) if spec.len() <= MAX_SPEC_BYTES => {
            out.push_str(&format!("The app's spec (JSON): {spec}\n\n"));
        }
        Some(_) => out.push_str("(The app's spec is too long to show.)\n\n"),
        None => {}
    }
    let (shown_errors, cut) = head(errors.trim(), MAX_ERROR_BYTES);
    out.push_str(&format!("The build failed with these errors:\n{shown_errors}\n"));
    if cut {
        out.push_str("(… more errors left out)\n");
    }
    let earlier_text = earlier_attempts(earlier);
    if !earlier_text.is_empty() {
        out.push_str(&format!("\nWhat you changed on earlier attempts of this build:\n{earlier_text}"));
    }
    let instructions = answer_format();
    let budget = MAX_PROMPT_BYTES.saturating_sub(out.len() + instructions.len() + 1024);
    let (shown_files, left_out) = select(code, errors, budget);
    out.push_str("\nThe files:\n");
    for path in &shown_files {
        let note = if editable(path).is_ok() { "" } else { " (read-only)" };
        let fence = if path.ends_with(".sql") { "sql" } else { "rust" };
        out.push_str(&format!("\n--- {path}{note}\n```{fence}\n{}\n```\n", code.files[*path]));
    }
    if !left_out.is_empty() {
        out.push_str(&format!("\nOther files, not shown: {}\n", left_out.join(", ")));
    }
    out.push('\n');
    out.push_str(&instructions);
    out
}

/// The answer the model must give.
fn answer_format() -> String {
    "Answer with one JSON object and nothing else: {\"files\": {\"src/….rs\": \"the whole corrected \
     file\"}, \"summary\": \"one or two sentences: what was wrong, what you changed\"}. Include only the \
     files you change, each complete. Only paths under src/ ending in .rs are accepted; never change \
     Cargo.toml or the migrations."
        .to_owned()
}

/// The files to show within `budget` bytes, in the module's order, and the paths left out.
pub fn select<'a>(code: &'a Code, errors: &str, budget: usize) -> (Vec<&'a str>, Vec<&'a str>) {
    let named = mentioned(code, errors);
    let migrations = code.files.keys().map(String::as_str).filter(|path| path.starts_with("migrations/"));
    let others = code.editable_paths().filter(|path| !named.contains(path));
    let mut shown = Vec::new();
    let mut left_out = Vec::new();
    let mut used = 0;
    for path in named.iter().copied().chain(migrations).chain(others) {
        // The file, its header and its fence.
        let cost = code.files[path].len() + path.len() + 32;
        if used + cost <= budget {
            used += cost;
            shown.push(path);
        } else {
            left_out.push(path);
        }
    }
    (shown, left_out)
}

/// The files of `code` that `errors` names, in the order they are first named.
pub fn mentioned<'a>(code: &'a Code, errors: &str) -> Vec<&'a str> {
    let mut found: Vec<(usize, &str)> = code
        .files
        .keys()
        .filter_map(|path| first_mention(errors, path).map(|at| (at, path.as_str())))
        .collect();
    found.sort();
    found.into_iter().map(|(_, path)| path).collect()
}

/// Where `path` is first named in `text` as a whole path, alone or under a directory (cargo
/// names a file of a workspace member `<member>/src/lib.rs`); `src/lib.rs` is not named by
/// `src/lib.rsx` nor by `mysrc/lib.rs`.
fn first_mention(text: &str, path: &str) -> Option<usize> {
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
    text.match_indices(path).map(|(at, _)| at).find(|&at| {
        let before = text[..at].chars().next_back();
        let after = text[at + path.len()..].chars().next();
        !before.is_some_and(part_of_name) && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The newest of the earlier answers that fit [`MAX_EARLIER_BYTES`], oldest first, one a line.
fn earlier_attempts(earlier: &[String]) -> String {
    let mut kept = Vec::new();
    let mut used = 0;
    for text in earlier.iter().rev() {
        let line = format!("- {}\n", text.trim());
        if used + line.len() > MAX_EARLIER_BYTES {
            break;
        }
        used += line.len();
        kept.push(line);
    }
    kept.reverse();
    kept.concat()
}

/// The first `max` bytes of `text` (cut at a character boundary), and whether anything was cut.
fn head(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use vibe_agent_sdk::serde_json::json;

    use super::*;

    fn app(files: &[(&str, &str)]) -> Code {
        Code {
            files: files.iter().map(|(p, c)| ((*p).to_owned(), (*c).to_owned())).collect::<BTreeMap<_, _>>(),
        }
    }

    const RUSTC: &str = "error[E0425]: cannot find value `titel` in this scope\n  --> src/pages/books.rs:12:5\n   |\n12 |     titel\n   |     ^^^^^ help: a local variable with a similar name exists: `title`\n\nerror: aborting due to 1 previous error";

    #[test]
    fn the_files_the_errors_name_come_first_then_migrations_then_the_rest() {
        let code = app(&[
            ("src/lib.rs", "mod pages;"),
            ("src/pages/books.rs", "fn list() { titel }"),
            ("src/pages/mod.rs", "pub mod books;"),
            ("migrations/0001_initial.sql", "CREATE TABLE books (title text);"),
        ]);
        assert_eq!(mentioned(&code, RUSTC), ["src/pages/books.rs"]);
        let (shown, left_out) = select(&code, RUSTC, usize::MAX);
        assert_eq!(
            shown,
            ["src/pages/books.rs", "migrations/0001_initial.sql", "src/lib.rs", "src/pages/mod.rs"]
        );
        assert!(left_out.is_empty());

        let text = prompt(Some(&json!({"app": {"name": "Book Club"}})), &code, RUSTC, &[]);
        assert!(text.starts_with("The app's spec (JSON): {\"app\":{\"name\":\"Book Club\"}}"), "{text}");
        assert!(text.contains("cannot find value `titel`"));
        assert!(text.contains("--- src/pages/books.rs\n```rust\nfn list() { titel }\n```"), "{text}");
        assert!(text.contains("--- migrations/0001_initial.sql (read-only)\n```sql\n"), "{text}");
        assert!(text.ends_with("never change Cargo.toml or the migrations."), "{text}");
        assert!(!text.contains("earlier attempts"));
        assert_eq!(
            text,
            prompt(Some(&json!({"app": {"name": "Book Club"}})), &code, RUSTC, &[]),
            "deterministic"
        );
    }

    #[test]
    fn a_path_is_named_only_as_a_whole() {
        let code = app(&[("src/lib.rs", ""), ("src/li.rs", "")]);
        assert!(mentioned(&code, "see src/lib.rsx and mysrc/lib.rs").is_empty());
        assert_eq!(mentioned(&code, "--> src/lib.rs:3:1, then `src/li.rs`"), ["src/lib.rs", "src/li.rs"]);
        assert_eq!(mentioned(&code, "--> apps/book-club/src/li.rs:3:1"), ["src/li.rs"]);
    }

    #[test]
    fn the_budget_holds_for_large_apps_and_long_errors() {
        let big = "x".repeat(40 << 10);
        let files: Vec<(String, &str)> = (0..10).map(|n| (format!("src/m{n}.rs"), big.as_str())).collect();
        let code = Code { files: files.iter().map(|(p, c)| (p.clone(), (*c).to_owned())).collect() };
        let errors = format!("error in src/m7.rs\n{}", "e".repeat(100 << 10));
        let text = prompt(None, &code, &errors, &[]);
        assert!(text.len() <= MAX_PROMPT_BYTES, "{} bytes", text.len());
        assert!(text.contains("(… more errors left out)"));
        assert!(text.contains("--- src/m7.rs\n"), "the named file is shown first");
        assert!(text.contains("Other files, not shown: "), "the rest is listed");
        let (shown, left_out) = select(&code, &errors, 100 << 10);
        assert_eq!(shown[0], "src/m7.rs");
        assert_eq!(shown.len() + left_out.len(), 10);
    }

    #[test]
    fn earlier_attempts_are_shown_newest_within_their_budget() {
        let code = app(&[("src/lib.rs", "")]);
        let earlier = vec![
            "Changed src/lib.rs: renamed titel.".to_owned(),
            "Changed src/lib.rs: added a use.".to_owned(),
        ];
        let text = prompt(None, &code, "error", &earlier);
        assert!(
            text.contains("earlier attempts of this build:\n- Changed src/lib.rs: renamed titel.\n- Changed src/lib.rs: added a use.\n"),
            "{text}"
        );
        let many: Vec<String> = (0..100).map(|n| format!("attempt {n}: {}", "y".repeat(100))).collect();
        let shown = earlier_attempts(&many);
        assert!(shown.len() <= MAX_EARLIER_BYTES);
        assert!(shown.ends_with(&format!("- {}\n", many[99])), "the newest is kept");
    }
}
