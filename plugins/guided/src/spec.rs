//! The app spec (`host/schemas/app-spec-v1.schema.json`, `spec_version` 1) derived from an
//! interview, deterministically: the same answers always give the same spec.
//!
//! Entities come from "what they keep track of" (or, when skipped, from the opening); roles and
//! permissions from "who uses it" and "who may do what"; every entity gets a list, detail, create
//! and edit page and create/edit/remove actions, visible to and allowed for exactly the roles whose
//! permissions cover them; boolean fields get a "mark …" action. Names that SQL or Rust reserve are
//! prefixed, so every identifier is usable by the generator.

use serde_json::{Value, json};

use crate::interview::{Interview, Topic};
use crate::model::{Entity, Field, FieldKind, Operation, Role};
use crate::names::{is_reserved, safe, slug};
use crate::roles::{self, Roles};
use crate::words::{self, label, title};
use crate::{entities, sample};

/// The spec's format version.
pub const SPEC_VERSION: u64 = 1;

/// The spec for `interview`.
pub fn from_interview(interview: &Interview) -> Value {
    let answers = &interview.answers;
    let mut entities = answers.data.as_deref().map(entities::from_answer).unwrap_or_default();
    if entities.is_empty() {
        let said = [answers.problem.as_deref(), Some(interview.opening.as_str())];
        entities = said
            .into_iter()
            .flatten()
            .find_map(|text| {
                let found = entities_in_prose(text);
                (!found.is_empty()).then_some(found)
            })
            .unwrap_or_else(|| entities::from_answer("items with name and notes"));
    }
    let entities = make_names_safe(entities);
    let roles = roles::derive(answers.users.as_deref(), answers.permissions.as_deref(), &entities);
    let name = app_name(interview, &entities);
    render(&name, &summary(&entities, answers.users.as_deref()), describe(interview), &entities, &roles)
}

/// Things named after "track", "manage", "organise"… in a sentence ("to track what we read and who
/// brings snacks" → snack assignments); clauses starting with "what" name no thing and are dropped.
fn entities_in_prose(text: &str) -> Vec<Entity> {
    let lower = text.to_lowercase();
    let Some(start) = ["track ", "manage ", "organise ", "organize ", "keep ", "log ", "record ", "plan "]
        .iter()
        .filter_map(|verb| lower.find(verb).map(|at| at + verb.len()))
        .min()
    else {
        return Vec::new();
    };
    let items: Vec<String> =
        words::list_items(&lower[start..]).into_iter().filter(|item| !item.starts_with("what ")).collect();
    entities::from_answer(&items.join("; "))
}

/// Renames entities and fields that are reserved words, and references to renamed entities.
fn make_names_safe(mut entities: Vec<Entity>) -> Vec<Entity> {
    let renamed: Vec<(String, String)> = entities
        .iter()
        .filter(|entity| is_reserved(&entity.name) || is_reserved(&words::plural(&entity.name)))
        .map(|entity| (entity.name.clone(), format!("{}_entry", entity.name)))
        .collect();
    let rename = |name: &str| {
        renamed.iter().find(|(old, _)| old == name).map_or(name.to_owned(), |(_, new)| new.clone())
    };
    for entity in &mut entities {
        entity.name = rename(&entity.name);
        let mut taken: Vec<String> = Vec::new();
        for field in &mut entity.fields {
            if let FieldKind::Reference(target) = &field.kind {
                let target = rename(target);
                field.name = target.clone();
                field.kind = FieldKind::Reference(target);
            }
            field.name = safe(&field.name, &entity.name);
            while taken.contains(&field.name) {
                field.name.push('_');
                field.name.push('2');
            }
            taken.push(field.name.clone());
        }
    }
    entities
}

/// "an app for my book club to track…" → "Book Club"; otherwise named after the first entity.
fn app_name(interview: &Interview, entities: &[Entity]) -> String {
    let said = [interview.answers.problem.as_deref().unwrap_or(""), interview.opening.as_str()];
    for text in said {
        let tokens = words::tokens(text);
        if let Some(at) = tokens.iter().position(|w| w == "for") {
            let name: Vec<String> = tokens[at + 1..]
                .iter()
                .skip_while(|w| ["my", "our", "the", "a", "an"].contains(&w.as_str()))
                .take_while(|w| {
                    !["to", "that", "so", "where", "which", "who", "with", "and", "in"].contains(&w.as_str())
                })
                .take(4)
                .cloned()
                .collect();
            if !name.is_empty() && name.len() <= 3 {
                return title(&name.join("_"));
            }
        }
    }
    entities.first().map_or_else(|| "My App".to_owned(), |first| format!("{} Tracker", first.label))
}

fn summary(entities: &[Entity], users: Option<&str>) -> String {
    let things: Vec<String> = entities.iter().map(|e| e.plural_label.to_lowercase()).collect();
    let listed = match things.as_slice() {
        [] => "what matters to you".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    let mut summary = format!("Keeps track of {listed}.");
    if let Some(users) = users.map(str::trim).filter(|u| !u.is_empty()) {
        let users: String = users.trim_end_matches('.').chars().take(300).collect();
        summary.push_str(&format!(" For {users}."));
    }
    summary.chars().take(500).collect()
}

fn describe(interview: &Interview) -> String {
    let parts: Vec<String> = [Topic::Problem, Topic::Pages]
        .into_iter()
        .filter_map(|topic| {
            interview.answers.get(topic).map(|answer| answer.trim().trim_end_matches('.').to_owned())
        })
        .filter(|answer| !answer.is_empty())
        .collect();
    let text = if parts.is_empty() { interview.opening.clone() } else { format!("{}.", parts.join(". ")) };
    text.chars().take(2000).collect()
}

/// The spec JSON of an app called `name`.
pub fn render(name: &str, summary: &str, description: String, entities: &[Entity], roles: &Roles) -> Value {
    let who = |entity: &str, operation: Operation| -> Vec<String> {
        roles
            .roles
            .iter()
            .filter(|role| allows(role, entity, operation))
            .map(|role| role.name.clone())
            .collect()
    };
    let mut pages = vec![
        json!({"kind": "home", "title": name, "visible_to": roles.roles.iter().map(|r| &r.name).collect::<Vec<_>>()}),
    ];
    let mut actions = Vec::new();
    for entity in entities {
        let lower = entity.label.to_lowercase();
        let assignment = entity.name.ends_with("_assignment");
        let create_title = if assignment { "Sign up".to_owned() } else { format!("Add a {lower}") };
        for (kind, title, operation) in [
            ("list", entity.plural_label.clone(), Operation::View),
            ("detail", entity.label.clone(), Operation::View),
            ("create", create_title.clone(), Operation::Create),
            ("edit", format!("Edit {lower}"), Operation::Update),
        ] {
            let visible = who(&entity.name, operation);
            if !visible.is_empty() {
                pages.push(
                    json!({"kind": kind, "entity": entity.name, "title": title, "visible_to": visible}),
                );
            }
        }
        for (kind, prefix, label, operation) in [
            ("create", "add", create_title, Operation::Create),
            ("update", "edit", "Edit".to_owned(), Operation::Update),
            ("delete", "remove", "Remove".to_owned(), Operation::Delete),
        ] {
            let allowed = who(&entity.name, operation);
            if !allowed.is_empty() {
                let name = format!("{prefix}_{}", entity.name);
                actions.push(json!({"name": name, "kind": kind, "entity": entity.name, "label": label, "roles": allowed}));
            }
        }
        let allowed = who(&entity.name, Operation::Update);
        for field in entity.fields.iter().filter(|field| field.kind == FieldKind::Boolean) {
            if !allowed.is_empty() {
                actions.push(json!({
                    "name": format!("mark_{}_{}", entity.name, field.name).chars().take(63).collect::<String>(),
                    "kind": "custom", "entity": entity.name, "label": format!("Mark {}", field.label.to_lowercase()),
                    "roles": allowed, "set": {field.name.clone(): true},
                }));
            }
        }
    }
    let mut permissions = Vec::new();
    for role in &roles.roles {
        for (entity, operations) in role.grants.iter().filter(|(_, operations)| !operations.is_empty()) {
            let allow: Vec<&str> = operations.iter().map(|op| op.name()).collect();
            permissions.push(json!({"role": role.name, "entity": entity, "allow": allow}));
        }
    }
    json!({
        "spec_version": SPEC_VERSION,
        "app": {"name": name, "slug": slug(name), "summary": summary, "description": description},
        "entities": entities.iter().map(entity_json).collect::<Vec<_>>(),
        "roles": roles.roles.iter().map(|r| json!({"name": r.name, "label": r.label, "description": r.description})).collect::<Vec<_>>(),
        "default_roles": {"owner": roles.owner, "signed_in": roles.signed_in, "anonymous": roles.anonymous},
        "permissions": permissions,
        "pages": pages,
        "actions": actions,
        "sample_data": sample::records(entities),
    })
}

fn allows(role: &Role, entity: &str, operation: Operation) -> bool {
    role.grants.iter().any(|(e, operations)| e == entity && operations.contains(&operation))
}

fn entity_json(entity: &Entity) -> Value {
    let display = entity
        .fields
        .iter()
        .find(|f| f.kind == FieldKind::Text)
        .or_else(|| entity.fields.iter().find(|f| !matches!(f.kind, FieldKind::Reference(_))))
        .map_or("name", |f| f.name.as_str());
    json!({
        "name": entity.name,
        "plural": words::plural(&entity.name),
        "label": entity.label,
        "label_plural": entity.plural_label,
        "display_field": display,
        "fields": entity.fields.iter().map(field_json).collect::<Vec<_>>(),
    })
}

fn field_json(field: &Field) -> Value {
    let mut value = json!({"name": field.name, "label": label_of(field), "type": type_name(&field.kind)});
    let object = value.as_object_mut();
    if let Some(object) = object {
        if field.kind != FieldKind::Boolean {
            object.insert("required".into(), json!(field.required));
        }
        match &field.kind {
            FieldKind::Money => {
                object.insert("scale".into(), json!(2));
                object.insert("min".into(), json!(0));
            }
            FieldKind::Reference(target) => {
                object.insert("entity".into(), json!(target));
                let on_delete = if field.required { "cascade" } else { "set_null" };
                object.insert("on_delete".into(), json!(on_delete));
            }
            FieldKind::Phone => {
                object.insert("max_length".into(), json!(40));
            }
            _ => {}
        }
    }
    value
}

fn label_of(field: &Field) -> String {
    if field.label.trim().is_empty() {
        label(&field.name)
    } else {
        field.label.trim().chars().take(100).collect()
    }
}

fn type_name(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Text | FieldKind::Phone => "string",
        FieldKind::LongText => "text",
        FieldKind::Integer => "integer",
        FieldKind::Money => "decimal",
        FieldKind::Boolean => "boolean",
        FieldKind::Date => "date",
        FieldKind::DateTime => "datetime",
        FieldKind::Email => "email",
        FieldKind::Url => "url",
        FieldKind::Reference(_) => "reference",
    }
}
