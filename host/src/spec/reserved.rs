//! Names a spec may not use: they would break the SQL or the Rust the code generator writes.

/// PostgreSQL's reserved key words (`pg_get_keywords()` categories R and T, through version 17):
/// not usable as unquoted table or column names.
const SQL_RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// Rust's strict, reserved and weak keywords (2024 edition), which cannot name a binding or a
/// module, plus the ones that are lowercase only by accident of the pattern.
const RUST_KEYWORDS: &[&str] = &[
    "abstract",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "macro_rules",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "pub",
    "raw",
    "ref",
    "return",
    "safe",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "union",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
];

/// Columns every entity has besides its fields.
pub(super) const IMPLICIT_COLUMNS: &[&str] = &["id", "created_at", "updated_at"];

/// Names an entity's Rust type (UpperCamelCase) would shadow from the prelude.
const PRELUDE_TYPES: &[&str] = &["option", "result", "string", "vec", "box", "some", "none", "ok", "err"];

/// What a name will become, which decides what it may not be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NameUse {
    /// A table and a Rust type (entity names and plurals).
    Entity,
    /// A column and a Rust field.
    Field,
    /// A Rust identifier only (roles, actions).
    Identifier,
}

/// Why `name` may not be used as `use_`, if it may not.
pub(super) fn refusal(name: &str, use_: NameUse) -> Option<String> {
    if SQL_RESERVED.contains(&name) {
        return Some(format!("`{name}` is a reserved word in SQL; choose another name"));
    }
    if RUST_KEYWORDS.contains(&name) {
        return Some(format!("`{name}` is a Rust keyword; choose another name"));
    }
    if use_ == NameUse::Field && IMPLICIT_COLUMNS.contains(&name) {
        return Some(format!("`{name}` is a column every entity already has; choose another name"));
    }
    if use_ == NameUse::Entity && PRELUDE_TYPES.contains(&name) {
        return Some(format!("`{name}` would clash with a Rust standard type; choose another name"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words_are_refused_by_use() {
        assert!(refusal("select", NameUse::Field).is_some());
        assert!(refusal("user", NameUse::Entity).is_some());
        assert!(refusal("match", NameUse::Identifier).is_some());
        assert!(refusal("id", NameUse::Field).is_some());
        assert!(refusal("id", NameUse::Identifier).is_none());
        assert!(refusal("option", NameUse::Entity).is_some());
        assert!(refusal("option", NameUse::Field).is_none());
        assert!(refusal("book", NameUse::Entity).is_none());
    }
}
