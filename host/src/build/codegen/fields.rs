//! What each field type becomes in the generated Rust: its Rust type, its validation line, its
//! form text, its SQL placeholder, its input and how it is shown. One place per type, so the
//! model, the pages and the API agree.

use super::rust::{const_name, float, lit};
use crate::spec::model::{DEFAULT_STRING_MAX, DEFAULT_TEXT_MAX, Field, FieldKind};

/// Whether the record's Rust field is an `Option` (no value is allowed).
pub fn optional(field: &Field) -> bool {
    !field.kind.required() && !matches!(field.kind, FieldKind::Boolean { .. })
}

/// The Rust type of the value (without the `Option`).
fn base_type(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::String { .. }
        | FieldKind::Text { .. }
        | FieldKind::Email { .. }
        | FieldKind::Url { .. }
        | FieldKind::Enum { .. } => "String",
        FieldKind::Integer { .. } | FieldKind::Reference { .. } => "i64",
        FieldKind::Decimal { .. } => "f64",
        FieldKind::Boolean { .. } => "bool",
        FieldKind::Date { .. } => "Date",
        FieldKind::Datetime { .. } => "Timestamp",
    }
}

/// The Rust type of the record's field.
pub fn rust_type(field: &Field) -> String {
    let base = base_type(&field.kind);
    if optional(field) { format!("Option<{base}>") } else { base.to_owned() }
}

/// The constant holding an enum field's `(value, label)` pairs.
pub fn values_const(field: &Field) -> String {
    format!("{}_VALUES", const_name(&field.name))
}

/// The constant holding an enum field's values only (what `Check::choice` takes).
pub fn choices_const(field: &Field) -> String {
    format!("{}_CHOICES", const_name(&field.name))
}

/// The validation expression reading the field from `check` (a `vibe_app_sdk::Check`).
pub fn check_expression(field: &Field) -> String {
    let name = lit(&field.name);
    let rules = match &field.kind {
        FieldKind::String { min_length, max_length, .. } | FieldKind::Text { min_length, max_length, .. } => {
            let default_max = if matches!(field.kind, FieldKind::String { .. }) {
                DEFAULT_STRING_MAX
            } else {
                DEFAULT_TEXT_MAX
            };
            let mut rules = format!("check.text({name})");
            if let Some(min) = min_length.filter(|min| *min > 0) {
                rules.push_str(&format!(".min_len({min})"));
            }
            rules.push_str(&format!(".max_len({})", max_length.unwrap_or(default_max)));
            rules
        }
        FieldKind::Integer { min, max, .. } => {
            let mut rules = format!("check.int({name})");
            if let Some(min) = min {
                rules.push_str(&format!(".min({min})"));
            }
            if let Some(max) = max {
                rules.push_str(&format!(".max({max})"));
            }
            rules
        }
        FieldKind::Decimal { min, max, scale, .. } => {
            let mut rules = format!("check.decimal({name})");
            rules.push_str(&format!(".min({})", float(min.unwrap_or(-999_999_999_999_999.0))));
            rules.push_str(&format!(".max({})", float(max.unwrap_or(999_999_999_999_999.0))));
            rules.push_str(&format!(".places({scale})"));
            rules
        }
        FieldKind::Boolean { .. } => return format!("check.bool({name})"),
        FieldKind::Date { .. } => format!("check.date({name})"),
        FieldKind::Datetime { .. } => format!("check.datetime({name})"),
        FieldKind::Email { .. } => format!("check.email({name})"),
        FieldKind::Url { .. } => format!("check.url({name})"),
        FieldKind::Enum { .. } => format!("check.choice({name}, {})", choices_const(field)),
        FieldKind::Reference { .. } => format!("check.int({name}).min(1)"),
    };
    let ending = if optional(field) { "optional" } else { "required" };
    format!("{rules}.{ending}()")
}

/// The expression giving the field of `value` (a record or a draft) as form text.
pub fn form_text(field: &Field, value: &str) -> String {
    let name = &field.name;
    if optional(field) {
        format!("{value}.{name}.as_ref().map(ToString::to_string).unwrap_or_default()")
    } else {
        format!("{value}.{name}.to_string()")
    }
}

/// The SQL placeholder `$n` for the field, with the cast its parameter needs.
pub fn placeholder(field: &Field, n: usize) -> String {
    match field.kind {
        FieldKind::Date { .. } => format!("${n}::date"),
        _ => format!("${n}"),
    }
}

/// The input of the field on a form, reading `values` and `errors`.
pub fn input(field: &Field, entity_const_options: Option<&str>) -> String {
    let name = lit(&field.name);
    let label = lit(&field.label);
    let plain = |input: &str| format!("field(Input::{input}, {name}, {label}, values, errors)");
    match &field.kind {
        FieldKind::String { .. } | FieldKind::Url { .. } => plain("Text"),
        FieldKind::Text { .. } => plain("TextArea"),
        FieldKind::Integer { .. } => plain("Number"),
        FieldKind::Decimal { .. } => plain("Decimal"),
        FieldKind::Date { .. } => plain("Date"),
        FieldKind::Email { .. } => plain("Email"),
        FieldKind::Datetime { .. } => format!("forms::datetime({name}, {label}, values, errors)"),
        FieldKind::Boolean { .. } => format!("forms::checkbox({name}, {label}, values, errors)"),
        FieldKind::Enum { .. } => {
            format!(
                "forms::select({name}, {label}, &forms::pairs(super::{}), values, errors)",
                values_const(field)
            )
        }
        FieldKind::Reference { .. } => format!(
            "forms::select({name}, {label}, &{}, values, errors)",
            entity_const_options.unwrap_or("[]")
        ),
    }
}

/// The HTML showing the field of `record` (a page's detail line or table cell); not for
/// references, which the pages look up.
pub fn display(field: &Field, record: &str) -> String {
    let value = format!("{record}.{}", field.name);
    match &field.kind {
        FieldKind::Boolean { .. } => format!("if {value} {{ \"Yes\" }} else {{ \"No\" }}"),
        FieldKind::Enum { .. } => {
            if optional(field) {
                format!(
                    "{value}.as_deref().map(|value| forms::label_of(super::{}, value))",
                    values_const(field)
                )
            } else {
                format!("forms::label_of(super::{}, &{value})", values_const(field))
            }
        }
        FieldKind::Url { .. } => {
            if optional(field) {
                format!("{value}.as_deref().map(forms::link)")
            } else {
                format!("forms::link(&{value})")
            }
        }
        _ => format!("&{value}"),
    }
}
