//! A plugin-side check of a spec's shape and cross-references: what a spec an LLM proposed must
//! pass before the agent accepts it instead of the deterministic one. The platform validates every
//! stored spec against the JSON Schema itself; this check exists so that an agent never hands on
//! a spec that is obviously broken (missing parts, names that point nowhere).

use serde_json::Value;

use crate::names::is_reserved;

const FIELD_TYPES: &[&str] = &[
    "string",
    "text",
    "integer",
    "decimal",
    "boolean",
    "date",
    "datetime",
    "email",
    "url",
    "enum",
    "reference",
];
const OPERATIONS: &[&str] = &["read", "create", "update", "delete"];

fn is_identifier(value: &Value) -> bool {
    value.as_str().is_some_and(|name| {
        let bytes = name.as_bytes();
        (1..=63).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
    })
}

fn is_label(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|label| !label.is_empty() && label.chars().count() <= 100 && label.trim() == label)
}

fn names(items: &Value, key: &str) -> Vec<String> {
    items.as_array().into_iter().flatten().filter_map(|item| item[key].as_str().map(str::to_owned)).collect()
}

/// What is wrong with `spec`, one line each; empty when nothing is.
pub fn problems(spec: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |problem: String| problems.push(problem);
    if spec["spec_version"] != 1 {
        fail("spec_version must be 1".into());
    }
    for key in ["name", "summary"] {
        if spec["app"][key].as_str().is_none_or(|text| text.trim().is_empty()) {
            fail(format!("app.{key} is missing"));
        }
    }
    let slug_ok = spec["app"]["slug"].as_str().is_some_and(|slug| {
        slug.starts_with(|c: char| c.is_ascii_lowercase())
            && slug.len() <= 63
            && !slug.ends_with('-')
            && !slug.contains("--")
            && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if !slug_ok {
        fail("app.slug must be lowercase letters, digits and single hyphens".into());
    }
    let entities = names(&spec["entities"], "name");
    let roles = names(&spec["roles"], "name");
    if entities.is_empty() {
        fail("there must be at least one entity".into());
    }
    if roles.is_empty() {
        fail("there must be at least one role".into());
    }
    for entity in spec["entities"].as_array().into_iter().flatten() {
        let name = entity["name"].as_str().unwrap_or("?");
        for key in ["name", "plural", "display_field"] {
            if !is_identifier(&entity[key]) || entity[key].as_str().is_some_and(is_reserved) {
                fail(format!("entity {name}: {key} is not a usable identifier"));
            }
        }
        for key in ["label", "label_plural"] {
            if !is_label(&entity[key]) {
                fail(format!("entity {name}: {key} is missing"));
            }
        }
        let fields = entity["fields"].as_array().cloned().unwrap_or_default();
        if fields.is_empty() {
            fail(format!("entity {name} has no fields"));
        }
        let field_names = names(&entity["fields"], "name");
        let display = entity["display_field"].as_str().unwrap_or("");
        let display_field = fields.iter().find(|f| f["name"] == display);
        if display_field.is_none_or(|f| f["type"] == "reference") {
            fail(format!("entity {name}: display_field must name one of its fields that is not a reference"));
        }
        for (index, field) in fields.iter().enumerate() {
            let field_name = field["name"].as_str().unwrap_or("?");
            if !is_identifier(&field["name"]) || is_reserved(field_name) {
                fail(format!("{name}.{field_name}: not a usable name"));
            }
            if field_names.iter().position(|other| other == field_name) != Some(index) {
                fail(format!("{name}.{field_name} is named twice"));
            }
            if !is_label(&field["label"]) {
                fail(format!("{name}.{field_name}: label is missing"));
            }
            let kind = field["type"].as_str().unwrap_or("");
            if !FIELD_TYPES.contains(&kind) {
                fail(format!("{name}.{field_name}: unknown type {kind:?}"));
            }
            if kind == "reference"
                && !field["entity"].as_str().is_some_and(|t| entities.iter().any(|e| e == t))
            {
                fail(format!("{name}.{field_name} refers to an unknown entity"));
            }
            if kind == "enum" && field["values"].as_array().is_none_or(Vec::is_empty) {
                fail(format!("{name}.{field_name}: an enum needs values"));
            }
        }
    }
    let role_known = |value: &Value| value.as_str().is_some_and(|r| roles.iter().any(|known| known == r));
    let entity_known =
        |value: &Value| value.as_str().is_some_and(|e| entities.iter().any(|known| known == e));
    for key in ["owner", "signed_in"] {
        if !role_known(&spec["default_roles"][key]) {
            fail(format!("default_roles.{key} must name a role"));
        }
    }
    let anonymous = &spec["default_roles"]["anonymous"];
    if !(anonymous.is_null() || role_known(anonymous)) {
        fail("default_roles.anonymous must name a role or be null".into());
    }
    for grant in spec["permissions"].as_array().into_iter().flatten() {
        let allow_ok = grant["allow"]
            .as_array()
            .is_some_and(|ops| ops.iter().all(|op| op.as_str().is_some_and(|op| OPERATIONS.contains(&op))));
        if !role_known(&grant["role"]) || !entity_known(&grant["entity"]) || !allow_ok {
            fail(format!("permission {grant} names an unknown role, entity or operation"));
        }
    }
    let pages = spec["pages"].as_array().cloned().unwrap_or_default();
    if pages.iter().filter(|page| page["kind"] == "home").count() != 1 {
        fail("there must be exactly one home page".into());
    }
    for page in &pages {
        let visible_ok =
            page["visible_to"].as_array().is_some_and(|r| !r.is_empty() && r.iter().all(role_known));
        let entity_ok = page["kind"] == "home" || entity_known(&page["entity"]);
        if !visible_ok || !entity_ok || !is_label(&page["title"]) {
            fail(format!("page {page} names an unknown role or entity, or has no title"));
        }
    }
    for action in spec["actions"].as_array().into_iter().flatten() {
        let roles_ok = action["roles"].as_array().is_some_and(|r| !r.is_empty() && r.iter().all(role_known));
        if !is_identifier(&action["name"])
            || !entity_known(&action["entity"])
            || !roles_ok
            || !is_label(&action["label"])
        {
            fail(format!("action {action} is incomplete or names an unknown role or entity"));
        }
    }
    for record in spec["sample_data"].as_array().into_iter().flatten() {
        if !entity_known(&record["entity"]) || !record["values"].is_object() {
            fail(format!("sample record {record} names an unknown entity"));
        }
    }
    problems
}
