//! A little sample data for a derived spec: two records per entity, values that fit each field's
//! type (and, for common names such as `title` or `author`, its meaning), references pointing at
//! earlier sample records by key.

use serde_json::{Value, json};

use crate::model::{Entity, Field, FieldKind};

/// Sample records per entity.
const PER_ENTITY: usize = 2;

/// The sample records of `entities`, each entity after those it references (sample data is
/// inserted in order), as the spec's `sample_data` items.
pub fn records(entities: &[Entity]) -> Vec<Value> {
    let mut ordered: Vec<&Entity> = Vec::new();
    let mut pending: Vec<&Entity> = entities.iter().collect();
    while !pending.is_empty() {
        let ready = pending.iter().position(|entity| {
            references(entity).all(|target| {
                ordered.iter().any(|done| done.name == target)
                    || !pending.iter().any(|p| p.name == target)
                    || target == entity.name
            })
        });
        // A cycle of references: take the next one; its unresolvable references stay empty.
        let next = pending.remove(ready.unwrap_or(0));
        ordered.push(next);
    }
    let mut records = Vec::new();
    for (position, entity) in ordered.iter().enumerate() {
        for n in 0..PER_ENTITY {
            let mut values = serde_json::Map::new();
            for field in &entity.fields {
                let value = match &field.kind {
                    FieldKind::Reference(target) if ordered[..position].iter().any(|e| &e.name == target) => {
                        Some(json!(key(target, n)))
                    }
                    FieldKind::Reference(_) => None,
                    _ => Some(value(field, n)),
                };
                if let Some(value) = value {
                    values.insert(field.name.clone(), value);
                }
            }
            records.push(json!({"entity": entity.name, "key": key(&entity.name, n), "values": values}));
        }
    }
    records
}

fn references(entity: &Entity) -> impl Iterator<Item = &str> {
    entity.fields.iter().filter_map(|field| match &field.kind {
        FieldKind::Reference(target) => Some(target.as_str()),
        _ => None,
    })
}

/// A sample record's key: `book-1`, `snack-assignment-2`.
fn key(entity: &str, n: usize) -> String {
    format!("{}-{}", entity.replace('_', "-"), n + 1)
}

/// The `n`th sample value of `field`.
fn value(field: &Field, n: usize) -> Value {
    let pick = |options: [&str; PER_ENTITY]| json!(options[n % PER_ENTITY]);
    let words: Vec<&str> = field.name.split('_').collect();
    let named = |list: &[&str]| words.iter().any(|word| list.contains(word));
    match field.kind {
        FieldKind::Integer => json!([3, 5][n % PER_ENTITY]),
        FieldKind::Money => json!([12.5, 4.0][n % PER_ENTITY]),
        FieldKind::Boolean => json!(n.is_multiple_of(2)),
        FieldKind::Date => pick(["2027-01-14", "2027-02-11"]),
        FieldKind::DateTime => pick(["2027-01-14T19:00:00+01:00", "2027-02-11T19:00:00+01:00"]),
        FieldKind::Email => pick(["ana@example.com", "bo@example.com"]),
        FieldKind::Url => pick(["https://example.com/1", "https://example.com/2"]),
        FieldKind::Phone => pick(["+1 555 0100", "+1 555 0101"]),
        FieldKind::LongText => pick(["A few notes to start with.", "More notes."]),
        FieldKind::Reference(_) => Value::Null,
        FieldKind::Text if named(&["title", "book"]) => pick(["Piranesi", "The Left Hand of Darkness"]),
        FieldKind::Text if named(&["author", "writer"]) => pick(["Susanna Clarke", "Ursula K. Le Guin"]),
        FieldKind::Text if named(&["person", "name", "host", "member", "who", "owner", "player", "by"]) => {
            pick(["Ana", "Bo"])
        }
        FieldKind::Text if named(&["snack", "food", "dish"]) => pick(["Lemon cake", "Tea"]),
        FieldKind::Text if named(&["place", "location", "where", "venue", "address"]) => {
            pick(["Library, room 2", "Café Lumen"])
        }
        FieldKind::Text => json!(format!("{} {}", field.label, n + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities;

    #[test]
    fn references_point_at_earlier_records() {
        let entities = entities::from_answer("snacks: who brings what; meetings with date and host");
        let records = records(&entities);
        let order: Vec<&str> = records.iter().map(|r| r["entity"].as_str().unwrap()).collect();
        assert_eq!(order, ["meeting", "meeting", "snack_assignment", "snack_assignment"], "referenced first");
        assert_eq!(records[2]["values"]["meeting"], "meeting-1");
        assert_eq!(records[2]["values"]["snack"], "Lemon cake");
        assert_eq!(records[0]["values"]["date"], "2027-01-14");
    }
}
