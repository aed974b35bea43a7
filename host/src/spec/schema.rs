//! The JSON Schema layer: the schema of [`super::SCHEMA_V1`], compiled once per process.

use std::sync::LazyLock;

use jsonschema::Validator;
use serde_json::Value;

use super::SpecViolation;

/// Longest message kept from the validator (its messages quote the offending value).
const MAX_MESSAGE_CHARS: usize = 300;

/// The compiled schema, or why it would not compile (a broken build, caught by the tests: the
/// process then refuses every spec rather than panicking).
static VALIDATOR: LazyLock<Result<Validator, String>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(super::SCHEMA_V1).map_err(|error| error.to_string())?;
    // Formats are not asserted: the semantic checks parse dates, emails and URLs themselves.
    jsonschema::draft202012::options().build(&schema).map_err(|error| error.to_string())
});

/// Every place `spec` departs from the schema.
pub(super) fn check(spec: &Value) -> Vec<SpecViolation> {
    let validator = match VALIDATOR.as_ref() {
        Ok(validator) => validator,
        Err(error) => {
            tracing::error!(error, "the app spec schema does not compile");
            return vec![SpecViolation::new("", "the spec schema is unavailable on this server")];
        }
    };
    validator
        .iter_errors(spec)
        .take(super::MAX_VIOLATIONS)
        .map(|error| SpecViolation::new(error.instance_path().as_str(), shorten(error.to_string())))
        .collect()
}

fn shorten(message: String) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message;
    }
    let mut short: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_a_valid_draft_2020_12_schema_and_compiles() {
        let schema: Value = serde_json::from_str(crate::spec::SCHEMA_V1).unwrap();
        assert!(jsonschema::meta::is_valid(&schema));
        assert!(VALIDATOR.as_ref().is_ok(), "{:?}", VALIDATOR.as_ref().err());
    }
}
