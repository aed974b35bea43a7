//! App specifications: what an idea's app is (entities, pages, actions, roles, sample data), in
//! the versioned format of `host/schemas/app-spec-v1.schema.json`.
//!
//! A spec version is a version of the idea's pipeline artifact named [`ARTIFACT`]: every writer
//! (an agent turn's output, an agent's `pipeline.put`, `PUT /api/ideas/{id}/spec`) goes through
//! `agents::runtime::capabilities::pipeline::write`, which refuses a spec that does not pass
//! [`validate`] and keeps `ideas.specifications` equal to the latest version in the same
//! transaction. So every stored spec is a valid one.
//!
//! Validation has two layers: the JSON Schema (shape, types, identifier patterns), then the
//! checks a schema cannot express ([`semantic`]: references between parts, reserved names,
//! sample data against its fields). Both report every violation with its JSON pointer.
//!
//! The owner confirms a version before it may be built ([`store::confirm`]); a newer version is
//! unconfirmed until confirmed again, and [`confirmed`] is what the build pipeline asks.

pub mod model;
mod reserved;
mod schema;
mod semantic;
pub mod store;
mod values;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use model::AppSpec;
pub use store::{confirmed, current};

/// The pipeline artifact that holds an idea's spec versions.
pub const ARTIFACT: &str = "spec";

/// The JSON Schema every spec validates against (draft 2020-12).
pub const SCHEMA_V1: &str = include_str!("../../schemas/app-spec-v1.schema.json");

/// The most violations reported for one spec (the rest are dropped: fix these first).
pub const MAX_VIOLATIONS: usize = 100;

/// One way a spec fails: where (a JSON pointer into the spec, `""` for the whole spec) and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SpecViolation {
    /// JSON pointer to the offending value, e.g. `/entities/0/fields/2/entity`.
    pub path: String,
    /// What is wrong, for people.
    pub message: String,
}

impl SpecViolation {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        SpecViolation { path: path.into(), message: message.into() }
    }
}

impl std::fmt::Display for SpecViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.path.is_empty() { "/" } else { &self.path };
        write!(f, "{path}: {}", self.message)
    }
}

/// Checks `spec` against the schema and then the semantic rules; every violation on failure.
pub fn validate(spec: &Value) -> Result<(), Vec<SpecViolation>> {
    parse(spec).map(|_| ())
}

/// [`validate`], returning the spec as its typed model (what a code generator reads).
pub fn parse(spec: &Value) -> Result<AppSpec, Vec<SpecViolation>> {
    let mut violations = values::nul_characters(spec);
    violations.extend(schema::check(spec));
    if !violations.is_empty() {
        violations.truncate(MAX_VIOLATIONS);
        return Err(violations);
    }
    // The schema passed, so the shapes match the model; a failure here is a drift between the two.
    let model: AppSpec = serde_json::from_value(spec.clone())
        .map_err(|error| vec![SpecViolation::new("", format!("the spec does not fit its model: {error}"))])?;
    let mut violations = semantic::check(&model);
    if violations.is_empty() {
        Ok(model)
    } else {
        violations.truncate(MAX_VIOLATIONS);
        Err(violations)
    }
}

/// Parses `content` as JSON and validates it: what a spec artifact's writer must pass.
pub fn parse_content(content: &str) -> Result<AppSpec, Vec<SpecViolation>> {
    let value: Value = serde_json::from_str(content)
        .map_err(|error| vec![SpecViolation::new("", format!("the spec is not valid JSON: {error}"))])?;
    parse(&value)
}

/// Violations as one line (for errors that carry a message only), the first few in full.
pub fn summarize(violations: &[SpecViolation]) -> String {
    const SHOWN: usize = 10;
    let mut text = violations.iter().take(SHOWN).map(ToString::to_string).collect::<Vec<_>>().join("; ");
    if violations.len() > SHOWN {
        text.push_str(&format!("; and {} more", violations.len() - SHOWN));
    }
    text
}
