//! Reading cargo's `--message-format=json` output: the app's compiler errors (file, line, message
//! and the text rustc would print), its warnings, the built component's path, and signs that the
//! toolchain rather than the code is at fault.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The most errors and warnings kept from one build: the first ones are what a reader (or a model
/// fixing the code) needs, and rustc's later errors are often consequences of the first.
const MAX_KEPT: usize = 50;

/// A compiler error in the app's code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// The file, relative to the crate (`src/lib.rs`), when rustc points at one.
    pub file: Option<String>,
    /// The 1-based line in `file`.
    pub line: Option<u32>,
    /// The 1-based column in `file`.
    pub column: Option<u32>,
    /// The one-line message (`mismatched types`).
    pub message: String,
    /// The full text rustc prints, with the code excerpt and its notes.
    pub rendered: String,
}

/// What one build's output said, line by line.
#[derive(Debug, Default)]
pub(super) struct BuildOutput {
    /// The app crate's manifest: messages about it are the app's, the rest its dependencies'.
    manifest: PathBuf,
    /// The app's errors (the first [`MAX_KEPT`]).
    pub errors: Vec<Diagnostic>,
    /// How many errors there were in all.
    pub error_count: usize,
    /// The app's warnings, as rustc renders them (the first [`MAX_KEPT`]).
    pub warnings: Vec<String>,
    /// The errors in dependencies (the SDK, registry crates), rendered.
    pub dependency_errors: Vec<String>,
    /// The built component, from the app's `compiler-artifact` message.
    pub component: Option<PathBuf>,
    /// rustc said the standard library for the target is missing.
    pub target_missing: bool,
}

#[derive(Deserialize)]
struct Line {
    reason: String,
    #[serde(default)]
    manifest_path: Option<PathBuf>,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    filenames: Vec<PathBuf>,
}

#[derive(Deserialize)]
struct Message {
    message: String,
    level: String,
    #[serde(default)]
    rendered: Option<String>,
    #[serde(default)]
    spans: Vec<Span>,
}

#[derive(Deserialize)]
struct Span {
    file_name: String,
    line_start: u32,
    column_start: u32,
    is_primary: bool,
    #[serde(default)]
    expansion: Option<Box<Expansion>>,
}

#[derive(Deserialize)]
struct Expansion {
    span: Span,
}

impl BuildOutput {
    /// Output of a build of the crate whose manifest is `manifest`.
    pub fn new(manifest: PathBuf) -> BuildOutput {
        BuildOutput { manifest, ..BuildOutput::default() }
    }

    /// Takes in one line of cargo's standard output (lines that are not JSON are ignored).
    pub fn read_line(&mut self, line: &str) {
        let Ok(line) = serde_json::from_str::<Line>(line) else { return };
        let ours = line.manifest_path.as_deref() == Some(self.manifest.as_path());
        match (line.reason.as_str(), line.message) {
            ("compiler-message", Some(message)) => self.read_message(ours, message),
            ("compiler-artifact", _) if ours => {
                self.component =
                    line.filenames.into_iter().find(|file| file.extension().is_some_and(|ext| ext == "wasm"));
            }
            _ => {}
        }
    }

    fn read_message(&mut self, ours: bool, message: Message) {
        let rendered = message.rendered.unwrap_or_else(|| message.message.clone());
        if message.level == "error" && rendered.contains("target may not be installed") {
            self.target_missing = true;
        }
        if !ours {
            if message.level == "error" {
                self.dependency_errors.push(rendered);
            }
            return;
        }
        // Summaries ("aborting due to 2 previous errors", "3 warnings emitted") point at nothing.
        if message.spans.is_empty()
            && (message.message.starts_with("aborting due to") || message.message.ends_with("emitted"))
        {
            return;
        }
        match message.level.as_str() {
            "error" | "error: internal compiler error" => {
                self.error_count += 1;
                if self.errors.len() < MAX_KEPT {
                    let span = app_span(&message.spans);
                    self.errors.push(Diagnostic {
                        file: span.map(|span| span.file_name.clone()),
                        line: span.map(|span| span.line_start),
                        column: span.map(|span| span.column_start),
                        message: message.message,
                        rendered,
                    });
                }
            }
            "warning" if self.warnings.len() < MAX_KEPT => self.warnings.push(rendered),
            _ => {}
        }
    }

    /// One line on the errors: how many, and the first with its place.
    pub fn summary(&self) -> String {
        let Some(first) = self.errors.first() else { return "the build failed".to_owned() };
        let place = match (&first.file, first.line) {
            (Some(file), Some(line)) => format!("{file}:{line}: "),
            (Some(file), None) => format!("{file}: "),
            _ => String::new(),
        };
        let count = match self.error_count {
            1 => "1 error".to_owned(),
            count => format!("{count} errors"),
        };
        format!("{count}; the first: {place}{}", first.message)
    }
}

/// The primary span, or, when it lies in a macro's code, the place in the app's sources the macro
/// was called from.
fn app_span(spans: &[Span]) -> Option<&Span> {
    let mut span = spans.iter().find(|span| span.is_primary).or(spans.first())?;
    while !in_app(&span.file_name) {
        match &span.expansion {
            Some(expansion) => span = &expansion.span,
            None => break,
        }
    }
    Some(span)
}

/// Whether rustc's file name is one of the app's (cargo runs rustc in the crate's directory, so
/// they are relative: `src/…`).
fn in_app(file_name: &str) -> bool {
    Path::new(file_name).starts_with("src")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "/build/apps/app-books/Cargo.toml";

    fn message(manifest: &str, level: &str, text: &str, spans: &str) -> String {
        format!(
            r#"{{"reason":"compiler-message","package_id":"x","manifest_path":"{manifest}","target":{{}},"message":{{"message":"{text}","level":"{level}","rendered":"{level}: {text}\n","spans":[{spans}],"children":[],"code":null}}}}"#
        )
    }

    fn span(file: &str, line: u32, primary: bool, expansion: Option<String>) -> String {
        let expansion = expansion.map_or("null".to_owned(), |span| {
            format!(r#"{{"span":{span},"macro_decl_name":"m!","def_site_span":null}}"#)
        });
        format!(
            r#"{{"file_name":"{file}","line_start":{line},"line_end":{line},"column_start":5,"column_end":9,"is_primary":{primary},"label":null,"text":[],"expansion":{expansion}}}"#
        )
    }

    #[test]
    fn errors_of_the_app_point_at_its_files() {
        let mut output = BuildOutput::new(MANIFEST.into());
        let macro_call = span("src/pages.rs", 7, true, None);
        for line in [
            "   Compiling serde v1.0.0".to_owned(),
            message(
                MANIFEST,
                "error",
                "mismatched types",
                &[span("src/lib.rs", 3, false, None), span("src/lib.rs", 12, true, None)].join(","),
            ),
            message(
                MANIFEST,
                "error",
                "in a macro",
                &span("/sdk/vibe-app-sdk/src/html.rs", 40, true, Some(macro_call)),
            ),
            message(MANIFEST, "warning", "unused variable", &span("src/lib.rs", 2, true, None)),
            message(MANIFEST, "error", "aborting due to 2 previous errors", ""),
            message("/build/sdk/vibe-app-sdk/Cargo.toml", "warning", "in the SDK", ""),
        ] {
            output.read_line(&line);
        }
        assert_eq!(output.error_count, 2);
        assert_eq!((output.errors[0].file.as_deref(), output.errors[0].line), (Some("src/lib.rs"), Some(12)));
        assert_eq!(
            (output.errors[1].file.as_deref(), output.errors[1].line),
            (Some("src/pages.rs"), Some(7))
        );
        assert_eq!(output.warnings, vec!["warning: unused variable\n".to_owned()]);
        assert_eq!(output.summary(), "2 errors; the first: src/lib.rs:12: mismatched types");
        assert!(!output.target_missing);
    }

    #[test]
    fn the_component_and_a_missing_target_are_noticed() {
        let mut output = BuildOutput::new(MANIFEST.into());
        output.read_line(&format!(
            r#"{{"reason":"compiler-artifact","manifest_path":"{MANIFEST}","filenames":["/t/wasm32-wasip2/release/app_books.wasm"],"fresh":false}}"#
        ));
        output.read_line(&message(
            "/root/.cargo/registry/src/serde/Cargo.toml",
            "error",
            "can't find crate for `core`\\n  = note: the `wasm32-wasip2` target may not be installed",
            "",
        ));
        assert_eq!(output.component.as_deref(), Some(Path::new("/t/wasm32-wasip2/release/app_books.wasm")));
        assert!(output.target_missing);
        assert!(output.errors.is_empty() && output.dependency_errors.len() == 1);
    }
}
