//! Writing spec text into generated Rust safely: identifiers are checked (never trusted), string
//! literals are escaped by Rust's own `Debug` for `str`, and type names avoid the SDK's names.
//! Everything the generator puts into Rust from a spec goes through this file.

use super::CodegenError;

/// Rust's keywords (strict, reserved and the 2024 edition's), which cannot name a field or a module.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop",
    "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "raw", "ref", "return", "safe",
    "self", "Self", "static", "struct", "super", "trait", "true", "try", "type", "typeof", "union", "unsafe",
    "unsized", "use", "virtual", "where", "while", "yield",
];

/// Type names a generated module already uses: an entity's type must not shadow them.
const TAKEN_TYPES: &[&str] = &[
    "Date",
    "Draft",
    "Error",
    "Form",
    "FormErrors",
    "FromRow",
    "Html",
    "Input",
    "Method",
    "Relation",
    "Request",
    "Response",
    "Result",
    "Router",
    "Row",
    "Serialize",
    "Timestamp",
    "User",
    "Option",
    "Some",
    "None",
    "Ok",
    "Err",
    "Vec",
    "String",
    "Box",
    "Op",
    "Visitor",
    "Page",
];

/// `name` if it is a plain lowercase identifier (`[a-z][a-z0-9_]{0,62}`) and no keyword: the
/// only names the generator writes into Rust and SQL unquoted. The spec validator guarantees
/// this; checking again means an unvalidated spec cannot inject code either.
pub fn ident(name: &str) -> Result<&str, CodegenError> {
    let mut chars = name.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63;
    if plain && !KEYWORDS.contains(&name) {
        Ok(name)
    } else {
        Err(CodegenError::Unsupported(format!("`{}` cannot be an identifier", name.escape_debug())))
    }
}

/// `text` as a Rust string literal, quotes and escapes included.
pub fn lit(text: &str) -> String {
    format!("{text:?}")
}

/// A list of string literals: `&["a", "b"]`.
pub fn lit_list<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|item| lit(item.as_ref())).collect();
    format!("&[{}]", items.join(", "))
}

/// The UpperCamelCase type name of entity `name` (`snack_assignment` → `SnackAssignment`), with
/// `Record` added when it would shadow a name the generated modules use (`request` → `RequestRecord`).
pub fn type_name(name: &str) -> String {
    let camel: String = name
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if TAKEN_TYPES.contains(&camel.as_str()) { format!("{camel}Record") } else { camel }
}

/// An upper-case constant name for `name` (`status` → `STATUS`).
pub fn const_name(name: &str) -> String {
    name.to_ascii_uppercase()
}

/// A Rust `f64` literal for `value` (always with a point, so it types as `f64`).
pub fn float(value: f64) -> String {
    let text = format!("{value:?}");
    if text.contains(['.', 'e', 'E']) { text } else { format!("{text}.0") }
}

/// `template` with each `«key»` replaced by its value, in one pass (a value is never scanned
/// again, so spec text inside a value cannot name a placeholder): keeps generated code readable
/// in the generator without escaping every brace.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find('«') {
        out.push_str(&rest[..start]);
        let after = &rest[start + '«'.len_utf8()..];
        let end = after.find('»').expect("a placeholder is closed");
        let key = &after[..end];
        let value = values.iter().find(|(name, _)| *name == key).map(|(_, value)| *value);
        out.push_str(value.unwrap_or_else(|| panic!("no value for the placeholder «{key}»")));
        rest = &after[end + '»'.len_utf8()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked() {
        assert!(ident("snack_assignment").is_ok());
        for bad in ["", "Book", "1x", "a-b", "fn", "x\"); std::process::exit(1); (\"", "self"] {
            assert!(ident(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn literals_escape_everything() {
        assert_eq!(lit("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(lit_list(&["x", "y"]), "&[\"x\", \"y\"]");
        assert_eq!(float(4.0), "4.0");
        assert_eq!(float(12.5), "12.5");
    }

    #[test]
    fn placeholders_are_filled_once() {
        assert_eq!(fill("a «x» b «y»", &[("x", "«y»"), ("y", "2")]), "a «y» b 2");
    }

    #[test]
    fn type_names_avoid_the_sdk() {
        assert_eq!(type_name("snack_assignment"), "SnackAssignment");
        assert_eq!(type_name("request"), "RequestRecord");
        assert_eq!(type_name("book"), "Book");
    }
}
