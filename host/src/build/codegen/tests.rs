//! Tests of the generator on the example specs: the files it writes, that spec text cannot
//! escape its literals, and how a later version's migration follows a changed spec. Compiling
//! and running the generated crates is tested in tests/api/build/.

use serde_json::{Value, json};

use super::*;
use crate::spec;

const BOOK_CLUB: &str = include_str!("../../../schemas/examples/book-club.json");

fn book_club_json() -> Value {
    serde_json::from_str(BOOK_CLUB).unwrap()
}

fn parse(value: &Value) -> AppSpec {
    spec::parse(value).unwrap_or_else(|violations| panic!("{}", spec::summarize(&violations)))
}

fn first_version(spec: &AppSpec) -> PreviousVersion {
    PreviousVersion { spec: spec.clone(), migrations: generate(spec, None).unwrap().migrations() }
}

#[test]
fn the_book_club_becomes_a_crate_with_one_module_per_part() {
    let app = generate(&parse(&book_club_json()), None).unwrap();
    let paths: Vec<&str> = app.files.keys().map(String::as_str).collect();
    for expected in [
        "migrations/0001_initial.sql",
        "src/access.rs",
        "src/entities/book/api.rs",
        "src/entities/book/mod.rs",
        "src/entities/book/pages.rs",
        "src/entities/meeting/mod.rs",
        "src/entities/snack_assignment/pages.rs",
        "src/forms.rs",
        "src/home.rs",
        "src/layout.rs",
        "src/lib.rs",
        "src/members.rs",
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:?}");
    }
    for (path, source) in &app.files {
        if path.ends_with(".rs") {
            assert!(source.starts_with("//! "), "{path} starts with a module header");
            assert!(!source.contains('«'), "{path} has an unfilled placeholder");
        }
    }
    let lib = &app.files["src/lib.rs"];
    assert!(lib.contains(".patch(\"/api/books/{id}\", entities::book::api::update)"), "{lib}");
    let model = &app.files["src/entities/book/mod.rs"];
    assert!(model.contains("pub struct Book {"), "{model}");
    assert!(!model.contains("SELECT *"), "queries name their columns");
    let sql = &app.files["migrations/0001_initial.sql"];
    assert!(sql.contains("CREATE TABLE \"books\""), "{sql}");
    assert!(sql.contains("ON DELETE CASCADE"), "{sql}");
    assert!(
        sql.contains("OVERRIDING SYSTEM VALUE VALUES (1, 'Dune', 'Frank Herbert', 'finished', 412)"),
        "{sql}"
    );
    assert!(sql.contains("setval(pg_get_serial_sequence('\"books\"', 'id'), 3)"), "{sql}");
    assert_eq!(app.migrations().len(), 1);
    assert_eq!(app.migrations()[0].name, "0001_initial");
}

#[test]
fn spec_text_stays_inside_its_literals() {
    let mut value = book_club_json();
    let hostile = "\"); std::process::abort(); (\"' ; DROP TABLE books; -- */ «x» {}";
    value["app"]["name"] = json!("Club \\ \"x\"");
    value["app"]["summary"] = json!(hostile);
    value["entities"][0]["label_plural"] = json!("Books */ \" '");
    value["entities"][0]["fields"][0]["label"] = json!("Title \"); abort(); (\"");
    value["sample_data"][0]["values"]["title"] = json!(hostile);
    value["pages"][1]["title"] = json!("Books {}");
    let app = generate(&parse(&value), None).unwrap();
    // Outside comments (which hold spec text on one line), no quote closes a literal early.
    for (path, source) in app.files.iter().filter(|(path, _)| path.ends_with(".rs")) {
        for line in source.lines().filter(|line| !line.trim_start().starts_with("//")) {
            assert!(!line.contains("abort(); (\""), "{path}: {line}");
        }
    }
    assert!(app.files["src/home.rs"].contains(&rust::lit(hostile)));
    let sql = &app.files["migrations/0001_initial.sql"];
    assert!(sql.contains("'\"); std::process::abort(); (\"'' ; DROP TABLE books; -- */ «x» {}'"), "{sql}");
}

#[test]
fn names_the_app_uses_itself_are_refused() {
    let mut spec = parse(&book_club_json());
    spec.entities[0].plural = "members".to_owned();
    assert!(matches!(generate(&spec, None), Err(CodegenError::Unsupported(_))));
    let mut spec = parse(&book_club_json());
    spec.entities[0].fields[0].name = "title\"); x(); (\"".to_owned();
    assert!(matches!(generate(&spec, None), Err(CodegenError::Unsupported(_))));
}

#[test]
fn an_added_field_becomes_a_migration_that_keeps_the_rows() {
    let old = parse(&book_club_json());
    let previous = first_version(&old);
    let mut value = book_club_json();
    value["entities"][0]["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "isbn", "label": "ISBN", "type": "string", "max_length": 20}));
    value["entities"][0]["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "rating", "label": "Rating", "type": "integer", "required": true, "default": 3, "min": 1, "max": 5}));
    let app = generate(&parse(&value), Some(&previous)).unwrap();
    let migrations = app.migrations();
    let names: Vec<&str> = migrations.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["0001_initial", "0002_schema_changes"]);
    assert_eq!(migrations[0].sql, previous.migrations[0].sql, "the first migration is kept verbatim");
    let sql = &migrations[1].sql;
    assert!(sql.contains("ALTER TABLE \"books\" ADD COLUMN \"isbn\" text CONSTRAINT"), "{sql}");
    assert!(
        sql.contains("ADD COLUMN \"rating\" bigint NOT NULL DEFAULT 3"),
        "a required field with a default fills the existing rows: {sql}"
    );
    assert!(!sql.contains("CREATE TABLE") && !sql.contains("DROP"), "{sql}");
}

#[test]
fn a_new_entity_becomes_a_table_and_removed_parts_are_kept() {
    let old = parse(&book_club_json());
    let previous = first_version(&old);
    let mut new = old.clone();
    let mut review = new.entities[0].clone();
    review.name = "review".to_owned();
    review.plural = "reviews".to_owned();
    new.entities.push(review);
    let app = generate(&new, Some(&previous)).unwrap();
    let sql = &app.files["migrations/0002_add_reviews.sql"];
    assert!(sql.contains("CREATE TABLE \"reviews\""), "{sql}");

    let mut fewer = old.clone();
    fewer.entities[0].fields.retain(|field| field.name != "notes");
    let app = generate(&fewer, Some(&previous)).unwrap();
    assert_eq!(app.migrations().len(), 1, "a removed field keeps its column: nothing to migrate");
    assert!(!app.files["src/entities/book/mod.rs"].contains("notes"), "and the code stops using it");
}

#[test]
fn a_new_required_field_needs_a_default() {
    let old = parse(&book_club_json());
    let previous = first_version(&old);
    let mut new = old.clone();
    let isbn = json!({"name": "isbn", "label": "ISBN", "type": "string", "required": true});
    new.entities[0].fields.push(serde_json::from_value(isbn).unwrap());
    let error = generate(&new, Some(&previous)).unwrap_err();
    assert!(matches!(&error, CodegenError::Incompatible(why) if why.contains("book.isbn")), "{error}");
}

#[test]
fn a_changed_type_cannot_keep_the_data() {
    let old = parse(&book_club_json());
    let previous = first_version(&old);
    let mut new = old.clone();
    new.entities[0].fields[3] =
        serde_json::from_value(json!({"name": "pages", "label": "Pages", "type": "string"})).unwrap();
    let error = generate(&new, Some(&previous)).unwrap_err();
    assert!(matches!(&error, CodegenError::Incompatible(why) if why.contains("book.pages")), "{error}");
}
