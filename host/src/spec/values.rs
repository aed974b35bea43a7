//! Checking one value (a default, a custom action's `set`, a sample record's field) against its
//! field's type and rules, and the NUL characters PostgreSQL cannot store.

use regex::Regex;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::SpecViolation;
use super::model::{DECIMAL_LIMIT, DEFAULT_STRING_MAX, DEFAULT_TEXT_MAX, EMAIL_MAX, FieldKind, URL_MAX};

/// The largest compiled size a field's pattern may have, in bytes.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a field's `pattern`, anchored at both ends as the schema promises.
pub(super) fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|error| format!("is not a valid regular expression: {error}"))
}

/// Why `value` is not a value of a field of `kind` (not for references, whose values are keys).
pub(super) fn check(kind: &FieldKind, value: &Value) -> Result<(), String> {
    match kind {
        FieldKind::String { min_length, max_length, pattern, .. } => {
            let text = string(value)?;
            if text.contains(['\n', '\r']) {
                return Err("must be one line".to_owned());
            }
            length(text, *min_length, max_length.unwrap_or(DEFAULT_STRING_MAX))?;
            if let Some(pattern) = pattern
                && let Ok(regex) = compile_pattern(pattern)
                && !regex.is_match(text)
            {
                return Err(format!("must match the pattern `{pattern}`"));
            }
            Ok(())
        }
        FieldKind::Text { min_length, max_length, .. } => {
            length(string(value)?, *min_length, max_length.unwrap_or(DEFAULT_TEXT_MAX))
        }
        FieldKind::Integer { min, max, .. } => {
            let number = value.as_i64().ok_or("must be a whole number (64-bit)")?;
            if min.is_some_and(|min| number < min) || max.is_some_and(|max| number > max) {
                return Err(format!("must be between {} and {}", bound(*min), bound(*max)));
            }
            Ok(())
        }
        FieldKind::Decimal { min, max, scale, .. } => {
            let number = value.as_f64().filter(|_| value.is_number()).ok_or("must be a number")?;
            if !number.is_finite() || number.abs() >= DECIMAL_LIMIT {
                return Err("must have at most 15 digits before the decimal point".to_owned());
            }
            // Rust prints the shortest representation that reads back the same, never in exponent form.
            let printed = number.to_string();
            let places = printed.split_once('.').map_or(0, |(_, fraction)| fraction.len());
            if places > usize::from(*scale) {
                return Err(format!("must have at most {scale} digits after the decimal point"));
            }
            if min.is_some_and(|min| number < min) || max.is_some_and(|max| number > max) {
                return Err(format!("must be between {} and {}", bound(*min), bound(*max)));
            }
            Ok(())
        }
        FieldKind::Boolean { .. } => {
            value.as_bool().map(|_| ()).ok_or_else(|| "must be true or false".to_owned())
        }
        FieldKind::Date { .. } => {
            let format = format_description!("[year]-[month]-[day]");
            time::Date::parse(string(value)?, &format)
                .map(|_| ())
                .map_err(|_| "must be a date written YYYY-MM-DD".to_owned())
        }
        FieldKind::Datetime { .. } => {
            time::OffsetDateTime::parse(string(value)?, &Rfc3339).map(|_| ()).map_err(|_| {
                "must be a date and time in RFC 3339 with an offset, e.g. 2027-01-14T19:00:00+01:00"
                    .to_owned()
            })
        }
        FieldKind::Email { .. } => email(string(value)?),
        FieldKind::Url { .. } => url(string(value)?),
        FieldKind::Enum { values, .. } => {
            let text = string(value)?;
            if values.iter().any(|allowed| allowed.value == text) {
                Ok(())
            } else {
                let allowed: Vec<&str> = values.iter().map(|allowed| allowed.value.as_str()).collect();
                Err(format!("must be one of: {}", allowed.join(", ")))
            }
        }
        FieldKind::Reference { .. } => Err("a reference has no value of its own here".to_owned()),
    }
}

fn string(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "must be a string".to_owned())
}

fn length(text: &str, min: Option<u32>, max: u32) -> Result<(), String> {
    let chars = text.chars().count();
    let min = min.unwrap_or(0);
    if chars < usize::try_from(min).unwrap_or(usize::MAX)
        || chars > usize::try_from(max).unwrap_or(usize::MAX)
    {
        return Err(format!("must be {min} to {max} characters long"));
    }
    Ok(())
}

fn bound<T: std::fmt::Display>(bound: Option<T>) -> String {
    bound.map_or_else(|| "any".to_owned(), |bound| bound.to_string())
}

fn email(text: &str) -> Result<(), String> {
    let valid = text.len() <= EMAIL_MAX
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid { Ok(()) } else { Err("must be an email address".to_owned()) }
}

fn url(text: &str) -> Result<(), String> {
    let parsed = url::Url::parse(text).ok();
    let valid = text.len() <= URL_MAX
        && parsed.is_some_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some());
    if valid { Ok(()) } else { Err(format!("must be an http or https URL of at most {URL_MAX} characters")) }
}

/// Every string (key or value) in `spec` that holds a NUL character, which PostgreSQL cannot store.
pub(super) fn nul_characters(spec: &Value) -> Vec<SpecViolation> {
    let mut found = Vec::new();
    walk(spec, &mut String::new(), &mut found);
    found
}

fn walk(value: &Value, path: &mut String, found: &mut Vec<SpecViolation>) {
    if found.len() >= super::MAX_VIOLATIONS {
        return;
    }
    let message = "must not contain NUL characters";
    match value {
        Value::String(text) if text.contains('\0') => found.push(SpecViolation::new(path.clone(), message)),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("/{index}"));
                walk(item, path, found);
                path.truncate(len);
            }
        }
        Value::Object(members) => {
            for (key, item) in members {
                let len = path.len();
                path.push('/');
                path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                if key.contains('\0') {
                    found.push(SpecViolation::new(path.clone(), message));
                } else {
                    walk(item, path, found);
                }
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decimal(scale: u8) -> FieldKind {
        FieldKind::Decimal { required: false, min: Some(0.0), max: None, scale, default: None }
    }

    #[test]
    fn decimals_count_their_places() {
        assert!(check(&decimal(2), &json!(12.5)).is_ok());
        assert!(check(&decimal(2), &json!(4)).is_ok());
        assert!(check(&decimal(2), &json!(0.125)).is_err());
        assert!(check(&decimal(0), &json!(1.5)).is_err());
        assert!(check(&decimal(2), &json!(-1)).is_err());
        assert!(check(&decimal(2), &json!(1e16)).is_err());
        assert!(check(&decimal(2), &json!("1.5")).is_err());
    }

    #[test]
    fn dates_emails_and_urls_are_parsed() {
        let date = FieldKind::Date { required: false, unique: false, default: None };
        assert!(check(&date, &json!("2027-02-28")).is_ok());
        assert!(check(&date, &json!("2027-02-30")).is_err());
        let at = FieldKind::Datetime { required: false, unique: false, default: None };
        assert!(check(&at, &json!("2027-01-14T19:00:00+01:00")).is_ok());
        assert!(check(&at, &json!("2027-01-14 19:00")).is_err());
        let mail = FieldKind::Email { required: false, unique: false, default: None };
        assert!(check(&mail, &json!("ana@example.com")).is_ok());
        for bad in ["ana", "ana@example", "a b@example.com", "@example.com", "a@b@example.com"] {
            assert!(check(&mail, &json!(bad)).is_err(), "{bad}");
        }
        let link = FieldKind::Url { required: false, unique: false, default: None };
        assert!(check(&link, &json!("https://example.com/x")).is_ok());
        assert!(check(&link, &json!("javascript:alert(1)")).is_err());
    }

    #[test]
    fn patterns_are_anchored() {
        let kind = FieldKind::String {
            required: false,
            unique: false,
            min_length: None,
            max_length: None,
            pattern: Some("[A-Z]{3}".to_owned()),
            default: None,
        };
        assert!(check(&kind, &json!("ABC")).is_ok());
        assert!(check(&kind, &json!("xABCx")).is_err());
    }

    #[test]
    fn nul_characters_are_found_with_their_path() {
        let found = nul_characters(&json!({"a": [1, {"b/c": "x\u{0}y"}]}));
        assert_eq!(found, [SpecViolation::new("/a/1/b~1c", "must not contain NUL characters")]);
    }
}
