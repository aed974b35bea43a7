//! `spec::validate`: the example passes; each kind of violation, of the schema or of the semantic
//! rules, is reported at its JSON pointer.

use serde_json::{Value, json};
use vibe_host::spec;

use super::{book_club, changed, example};

fn violations(spec: &Value) -> Vec<spec::SpecViolation> {
    spec::validate(spec).expect_err("the spec must be refused")
}

/// `spec` is refused with a violation at `path` whose message contains `says`.
#[track_caller]
fn refused_at(spec: &Value, path: &str, says: &str) {
    let found = violations(spec);
    assert!(
        found.iter().any(|v| v.path == path && v.message.contains(says)),
        "expected a violation at {path} saying {says:?}; got {found:#?}"
    );
}

#[test]
fn the_book_club_example_validates_and_reads_as_a_model() {
    let example = book_club();
    assert_eq!(spec::validate(&example), Ok(()));
    let model = spec::parse(&example).unwrap();
    assert_eq!(model.app.slug, "book-club");
    let names: Vec<&str> = model.entities.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["book", "meeting", "snack_assignment"]);
    assert_eq!(model.sample_data.len(), 7);
    // The model serialises back to a spec that still validates.
    assert_eq!(spec::validate(&serde_json::to_value(&model).unwrap()), Ok(()));
}

#[test]
fn the_room_booking_and_crm_examples_validate() {
    let rooms = spec::parse(&example("room-booking")).unwrap_or_else(|v| panic!("{}", spec::summarize(&v)));
    let names: Vec<&str> = rooms.entities.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["room", "booking"]);
    let crm = spec::parse(&example("crm")).unwrap_or_else(|v| panic!("{}", spec::summarize(&v)));
    assert_eq!(crm.default_roles.anonymous, None, "the CRM wants everyone signed in");
    let roles: Vec<&str> = crm.roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(roles, ["admin", "sales", "viewer"]);
    for model in [rooms, crm] {
        assert_eq!(spec::validate(&serde_json::to_value(&model).unwrap()), Ok(()));
    }
}

#[test]
fn the_schema_refuses_wrong_shapes_at_their_place() {
    refused_at(&changed("/spec_version", Some(json!(2))), "/spec_version", "");
    refused_at(&changed("/app/slug", None), "/app", "slug");
    refused_at(&changed("/app/slug", Some(json!("Book Club"))), "/app/slug", "");
    refused_at(&changed("/entities/0/name", Some(json!("Book"))), "/entities/0/name", "");
    refused_at(&changed("/entities/0/name", Some(json!("a".repeat(64)))), "/entities/0/name", "");
    refused_at(&changed("/entities/0/fields/0/type", Some(json!("money"))), "/entities/0/fields/0/type", "");
    // A key that does not belong to the field's type.
    refused_at(&changed("/entities/0/fields/0/min", Some(json!(3))), "/entities/0/fields/0", "min");
    refused_at(&changed("/entities/0/fields/2/values", None), "/entities/0/fields/2", "values");
    refused_at(&changed("/entities/1/fields/1/entity", None), "/entities/1/fields/1", "entity");
    refused_at(&changed("/pages/0/entity", Some(json!("book"))), "/pages/0/entity", "");
    refused_at(&changed("/pages/1/entity", None), "/pages/1", "entity");
    refused_at(&changed("/actions/0/set", Some(json!({"title": "x"}))), "/actions/0/set", "");
    refused_at(&changed("/actions/3/set", None), "/actions/3", "set");
    refused_at(&changed("/surprise", Some(json!(true))), "", "surprise");
    refused_at(&json!([]), "", "");
}

#[test]
fn names_must_be_unique_and_not_reserved() {
    refused_at(
        &changed("/entities/0/fields/1/name", Some(json!("title"))),
        "/entities/0/fields/1/name",
        "another field",
    );
    refused_at(
        &changed("/entities/0/fields/0/name", Some(json!("select"))),
        "/entities/0/fields/0/name",
        "SQL",
    );
    refused_at(
        &changed("/entities/0/fields/0/name", Some(json!("id"))),
        "/entities/0/fields/0/name",
        "already has",
    );
    refused_at(&changed("/entities/0/name", Some(json!("match"))), "/entities/0/name", "Rust keyword");
    refused_at(&changed("/entities/0/plural", Some(json!("user"))), "/entities/0/plural", "SQL");
    refused_at(&changed("/entities/1/plural", Some(json!("books"))), "/entities/1/plural", "already used");
    refused_at(&changed("/roles/1/name", Some(json!("organizer"))), "/roles/1/name", "twice");
    refused_at(&changed("/actions/1/name", Some(json!("suggest_book"))), "/actions/1/name", "already");
    let twice = json!([{"value": "a", "label": "A"}, {"value": "a", "label": "B"}]);
    refused_at(
        &changed("/entities/0/fields/2/values", Some(twice)),
        "/entities/0/fields/2/values/1/value",
        "twice",
    );
}

#[test]
fn references_must_point_at_what_exists() {
    refused_at(
        &changed("/entities/1/fields/1/entity", Some(json!("film"))),
        "/entities/1/fields/1/entity",
        "no entity",
    );
    refused_at(
        &changed("/entities/0/display_field", Some(json!("isbn"))),
        "/entities/0/display_field",
        "not a field",
    );
    refused_at(
        &changed("/entities/1/display_field", Some(json!("book"))),
        "/entities/1/display_field",
        "reference",
    );
    refused_at(
        &changed("/default_roles/signed_in", Some(json!("guest"))),
        "/default_roles/signed_in",
        "no role",
    );
    refused_at(&changed("/permissions/0/role", Some(json!("guest"))), "/permissions/0/role", "no role");
    refused_at(&changed("/permissions/0/entity", Some(json!("film"))), "/permissions/0/entity", "no entity");
    let again = json!({"role": "organizer", "entity": "book", "allow": ["read"]});
    refused_at(&changed("/permissions/-", Some(again)), "/permissions/7", "already has a grant");
    refused_at(&changed("/pages/1/entity", Some(json!("film"))), "/pages/1/entity", "no entity");
    refused_at(&changed("/pages/1/visible_to/2", Some(json!("guest"))), "/pages/1/visible_to/2", "no role");
    refused_at(&changed("/actions/0/entity", Some(json!("film"))), "/actions/0/entity", "no entity");
    refused_at(&changed("/actions/0/roles/1", Some(json!("guest"))), "/actions/0/roles/1", "no role");
    refused_at(&changed("/sample_data/0/entity", Some(json!("film"))), "/sample_data/0/entity", "no entity");
}

#[test]
fn pages_and_actions_need_the_permissions_of_their_roles() {
    // Visitors may read books but not meetings.
    refused_at(
        &changed("/pages/5/visible_to/1", Some(json!("visitor"))),
        "/pages/5/visible_to/1",
        "may not read",
    );
    // Members may not update books.
    refused_at(
        &changed("/pages/4/visible_to/0", Some(json!("member"))),
        "/pages/4/visible_to/0",
        "may not update",
    );
    refused_at(&changed("/actions/2/roles/0", Some(json!("member"))), "/actions/2/roles/0", "may not delete");
    refused_at(
        &changed("/actions/3/roles/0", Some(json!("visitor"))),
        "/actions/3/roles/0",
        "may not update",
    );
    let second_home = json!({"kind": "home", "title": "Again", "visible_to": ["member"]});
    refused_at(&changed("/pages/-", Some(second_home)), "/pages/13", "home page already");
    refused_at(&changed("/pages/0", None), "/pages", "home");
    let again = json!({"kind": "list", "entity": "book", "title": "More books", "visible_to": ["member"]});
    refused_at(&changed("/pages/-", Some(again)), "/pages/13", "list page for `book` already");
}

#[test]
fn field_rules_and_values_must_fit() {
    refused_at(
        &changed("/entities/0/fields/3/min", Some(json!(20_000))),
        "/entities/0/fields/3/min",
        "more than",
    );
    refused_at(
        &changed("/entities/0/fields/0/min_length", Some(json!(300))),
        "/entities/0/fields/0/min_length",
        "",
    );
    refused_at(
        &changed("/entities/0/fields/0/pattern", Some(json!("(unclosed"))),
        "/entities/0/fields/0/pattern",
        "regular expression",
    );
    refused_at(
        &changed("/entities/0/fields/2/default", Some(json!("lost"))),
        "/entities/0/fields/2/default",
        "one of",
    );
    refused_at(
        &changed("/entities/1/fields/1/on_delete", Some(json!("set_null"))),
        "/entities/1/fields/1/on_delete",
        "not required",
    );
    refused_at(&changed("/actions/3/set/status", Some(json!("lost"))), "/actions/3/set/status", "one of");
    refused_at(&changed("/actions/3/set/isbn", Some(json!("1"))), "/actions/3/set/isbn", "not a field");
    refused_at(&changed("/actions/8/set/held", Some(json!("yes"))), "/actions/8/set/held", "true or false");
}

#[test]
fn a_cycle_of_required_references_is_refused() {
    let back = json!({"name": "next_meeting", "label": "Next", "type": "reference", "entity": "meeting", "required": true});
    refused_at(&changed("/entities/0/fields/-", Some(back)), "/entities/0/fields/6", "book → meeting → book");
    let optional = json!({"name": "next_meeting", "label": "Next", "type": "reference", "entity": "meeting"});
    // Drop the sample data, which would need the new field.
    let mut spec = changed("/entities/0/fields/-", Some(optional));
    spec["sample_data"] = json!([]);
    assert_eq!(spec::validate(&spec), Ok(()));
    let own =
        json!({"name": "parent", "label": "Parent", "type": "reference", "entity": "book", "required": true});
    refused_at(&changed("/entities/0/fields/-", Some(own)), "/entities/0/fields/6", "book → book");
}

#[test]
fn sample_data_must_match_its_fields() {
    refused_at(
        &changed("/sample_data/0/values/pages", Some(json!("many"))),
        "/sample_data/0/values/pages",
        "whole number",
    );
    refused_at(
        &changed("/sample_data/0/values/pages", Some(json!(0))),
        "/sample_data/0/values/pages",
        "between",
    );
    refused_at(
        &changed("/sample_data/0/values/status", Some(json!("burned"))),
        "/sample_data/0/values/status",
        "one of",
    );
    refused_at(
        &changed("/sample_data/0/values/isbn", Some(json!("1"))),
        "/sample_data/0/values/isbn",
        "not a field",
    );
    refused_at(&changed("/sample_data/0/values/title", None), "/sample_data/0/values", "`title` is required");
    refused_at(
        &changed("/sample_data/1/values/link", Some(json!("ftp://x"))),
        "/sample_data/1/values/link",
        "URL",
    );
    refused_at(
        &changed("/sample_data/3/values/book", Some(json!("ulysses"))),
        "/sample_data/3/values/book",
        "no earlier",
    );
    // A reference must point backwards: the first meeting cannot name a later book.
    let mut spec = book_club();
    let meeting = spec["sample_data"][3].clone();
    spec["sample_data"].as_array_mut().unwrap().insert(0, meeting);
    refused_at(&spec, "/sample_data/0/values/book", "no earlier");
    refused_at(
        &changed("/sample_data/4/values/starts_at", Some(json!("2027-01-14T19:00:00+01:00"))),
        "/sample_data/4/values/starts_at",
        "unique",
    );
    refused_at(
        &changed("/sample_data/4/values/starts_at", Some(json!("next friday"))),
        "/sample_data/4/values/starts_at",
        "RFC 3339",
    );
    refused_at(
        &changed("/sample_data/5/values/cost", Some(json!(1.005))),
        "/sample_data/5/values/cost",
        "2 digits",
    );
    refused_at(
        &changed("/sample_data/5/values/member_email", Some(json!("ana"))),
        "/sample_data/5/values/member_email",
        "email",
    );
    refused_at(&changed("/sample_data/4/key", Some(json!("january"))), "/sample_data/4/key", "key `january`");
}

#[test]
fn nul_characters_are_refused_wherever_they_are() {
    refused_at(&changed("/app/summary", Some(json!("a\u{0}b"))), "/app/summary", "NUL");
}

#[test]
fn many_violations_are_all_reported_and_capped() {
    let mut spec = book_club();
    for record in spec["sample_data"].as_array_mut().unwrap() {
        record["values"]["isbn"] = json!(1);
    }
    assert_eq!(violations(&spec).len(), 7);
    let mut fields = Vec::new();
    for i in 0..100 {
        fields.push(json!({"name": format!("f{i}"), "label": "F", "type": "integer", "min": 5, "max": 1}));
    }
    let spec = changed("/entities/0/fields", Some(Value::Array(fields)));
    assert_eq!(violations(&spec).len(), spec::MAX_VIOLATIONS);
}
