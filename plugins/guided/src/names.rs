//! Names that become SQL and Rust identifiers in the generated app: those that cannot be used
//! (SQL reserved words, Rust keywords, the implicit columns) are made safe by prefixing them.

/// Names no entity or field may have: SQL reserved words (the standard's and PostgreSQL's that
/// people are likely to use as names), Rust keywords, and every entity's implicit columns.
const RESERVED: &[&str] = &[
    // Implicit columns.
    "id",
    "created_at",
    "updated_at",
    // SQL.
    "all",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "between",
    "both",
    "by",
    "case",
    "cast",
    "check",
    "column",
    "constraint",
    "create",
    "current",
    "cursor",
    "date",
    "day",
    "default",
    "delete",
    "desc",
    "distinct",
    "do",
    "drop",
    "else",
    "end",
    "except",
    "exists",
    "false",
    "fetch",
    "filter",
    "for",
    "foreign",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "hour",
    "in",
    "index",
    "inner",
    "insert",
    "interval",
    "into",
    "is",
    "join",
    "key",
    "language",
    "left",
    "like",
    "limit",
    "minute",
    "month",
    "natural",
    "not",
    "null",
    "of",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "over",
    "partition",
    "position",
    "primary",
    "range",
    "references",
    "right",
    "row",
    "rows",
    "second",
    "select",
    "session",
    "set",
    "size",
    "some",
    "start",
    "system",
    "table",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "update",
    "user",
    "using",
    "value",
    "values",
    "when",
    "where",
    "window",
    "with",
    "year",
    "zone",
    "level",
    "role",
    // Rust.
    "break",
    "const",
    "continue",
    "crate",
    "enum",
    "extern",
    "fn",
    "if",
    "impl",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "type",
    "unsafe",
    "use",
    "while",
    "async",
    "await",
    "dyn",
    "abstract",
    "become",
    "box",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
    "gen",
    "union",
];

/// Whether `name` may not be used as an identifier.
pub fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}

/// `name`, or `<prefix>_<name>` when `name` is reserved (a field `date` of `meeting` → `meeting_date`).
pub fn safe(name: &str, prefix: &str) -> String {
    if is_reserved(name) {
        let prefixed = format!("{prefix}_{name}");
        if is_reserved(&prefixed) { format!("{name}_value") } else { prefixed }
    } else {
        name.to_owned()
    }
}

/// The app's address segment for `name`: lowercase letters and digits, single hyphens.
pub fn slug(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let joined = words.join("-");
    let trimmed = joined.trim_start_matches(|c: char| !c.is_ascii_lowercase());
    let mut slug: String = trimmed.chars().take(63).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() { "my-app".to_owned() } else { slug }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_are_prefixed() {
        assert_eq!(safe("date", "meeting"), "meeting_date");
        assert_eq!(safe("title", "book"), "title");
        assert_eq!(safe("id", "book"), "book_id", "implicit columns too");
        assert_eq!(slug("Book Club!"), "book-club");
        assert_eq!(slug("42 Ideas"), "ideas");
        assert_eq!(slug("!!!"), "my-app");
    }
}
