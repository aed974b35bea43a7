//! Entities and typed fields from the answer to "what do you keep track of?".
//!
//! An answer is read as groups ("books with title, author and date read; meetings with date and
//! host; snacks: who brings what"): each group names a thing (its head) and, after "with", ":" or
//! "(", its details. A "who … what" detail makes an assignment entity (who brings which snack). A
//! detail naming another entity becomes a reference to it; the others get a type from their words
//! (a date, a number, money, yes/no, an email…), text otherwise.

use crate::model::{Entity, Field, FieldKind};
use crate::words::{self, identifier, is_stop, label, list_items, plural, singular, title};

/// The most entities and fields per entity taken from an answer.
const MAX_ENTITIES: usize = 12;
const MAX_FIELDS: usize = 20;

/// Things that happen on a date, which assignments belong to.
const EVENT_LIKE: &[&str] = &[
    "meeting",
    "event",
    "session",
    "game",
    "match",
    "class",
    "practice",
    "shift",
    "party",
    "gathering",
    "trip",
];

/// The entities described by `answer` (in the order named), or none if it names no thing.
pub fn from_answer(answer: &str) -> Vec<Entity> {
    let mut found: Vec<(Entity, Vec<String>)> = Vec::new();
    for group in groups(answer) {
        let (head, details) = split_head(&group);
        if details.is_empty() {
            // "books, meetings and snacks": several things without details.
            for item in list_items(&head) {
                push(&mut found, &item, "");
            }
        } else {
            push(&mut found, &head, &details);
        }
    }
    found.truncate(MAX_ENTITIES);
    let names: Vec<String> = found.iter().map(|(entity, _)| entity.name.clone()).collect();
    let event = names.iter().find(|name| EVENT_LIKE.contains(&name.as_str())).cloned();
    found
        .into_iter()
        .map(|(mut entity, details)| {
            let assignment = entity.name.ends_with("_assignment");
            entity.fields = fields(&details, &names, &entity.name);
            if assignment && let Some(event) = &event {
                entity.fields.push(Field {
                    name: event.clone(),
                    label: label(event),
                    kind: FieldKind::Reference(event.clone()),
                    required: false,
                });
            }
            entity
        })
        .collect()
}

/// The groups of an answer: split at ";", new lines and sentence ends.
fn groups(answer: &str) -> Vec<String> {
    answer
        .replace(". ", ";")
        .replace('\n', ";")
        .split(';')
        .map(|group| group.trim().trim_end_matches('.').trim().to_owned())
        .filter(|group| !group.is_empty())
        .collect()
}

/// A group's head and details.
fn split_head(group: &str) -> (String, String) {
    let lower = group.to_lowercase();
    let markers = [" with ", ":", " (", " - ", " including ", " having ", " that have ", " which have "];
    let first = markers.iter().filter_map(|marker| lower.find(marker).map(|at| (at, marker.len()))).min();
    match first {
        Some((at, len)) => (lower[..at].to_owned(), lower[at + len..].to_owned()),
        None => (lower, String::new()),
    }
}

/// Adds the entity named by `head` (unless it is already there, or names nothing).
fn push(found: &mut Vec<(Entity, Vec<String>)>, head: &str, details: &str) {
    let tokens = words::tokens(head);
    // "who brings snacks": an assignment of snacks.
    let who_does = tokens.first().is_some_and(|w| w == "who") && tokens.len() >= 3;
    let assignment = who_does || (details.contains("who") && details.contains("what"));
    let meaningful: Vec<String> = tokens.into_iter().filter(|w| !is_stop(w)).collect();
    let mut name_words: Vec<String> = if who_does {
        meaningful.last().cloned().into_iter().collect()
    } else {
        meaningful.iter().rev().take(2).rev().cloned().collect()
    };
    let Some(last) = name_words.pop() else { return };
    let thing = singular(&last);
    name_words.push(thing.clone());
    let Some(mut name) = identifier(&name_words) else { return };
    let mut details = list_items(details);
    if assignment {
        name = format!("{name}_assignment");
        details = vec!["who".to_owned(), format!("what:{thing}")];
    }
    if found.iter().any(|(entity, _)| entity.name == name) {
        return;
    }
    let entity =
        Entity { label: title(&name), plural_label: title(&plural(&name)), name, fields: Vec::new() };
    found.push((entity, details));
}

/// The fields described by `details`; at least one, the first required.
fn fields(details: &[String], entities: &[String], own: &str) -> Vec<Field> {
    let mut fields: Vec<Field> = Vec::new();
    for detail in details {
        let field = if detail == "who" {
            Some(Field { name: "person".into(), label: "Who".into(), kind: FieldKind::Text, required: true })
        } else if let Some(thing) = detail.strip_prefix("what:") {
            Some(Field { name: thing.into(), label: title(thing), kind: FieldKind::Text, required: true })
        } else {
            field(detail, entities, own)
        };
        if let Some(field) = field
            && !fields.iter().any(|known| known.name == field.name)
        {
            fields.push(field);
        }
    }
    fields.truncate(MAX_FIELDS);
    if !fields.iter().any(|field| field.kind == FieldKind::Text) {
        fields.insert(
            0,
            Field { name: "name".into(), label: "Name".into(), kind: FieldKind::Text, required: true },
        );
    }
    if let Some(first) = fields.first_mut() {
        first.required = true;
    }
    fields
}

/// One field from a detail such as "date read".
fn field(detail: &str, entities: &[String], own: &str) -> Option<Field> {
    let all = words::tokens(detail);
    let tokens: Vec<String> = all.iter().filter(|w| !is_stop(w)).cloned().collect();
    let name = identifier(&tokens)?;
    let referenced = entities
        .iter()
        .find(|entity| entity.as_str() != own && (singular(&name) == **entity || name == plural(entity)));
    if let Some(entity) = referenced {
        return Some(Field {
            name: entity.clone(),
            label: label(entity),
            kind: FieldKind::Reference(entity.clone()),
            required: false,
        });
    }
    Some(Field { label: label(&name), kind: kind_of(&all), name, required: false })
}

/// The type a detail's words suggest.
pub fn kind_of(tokens: &[String]) -> FieldKind {
    let has = |list: &[&str]| tokens.iter().any(|word| list.contains(&word.as_str()));
    let first = tokens.first().map(String::as_str).unwrap_or_default();
    if has(&["time", "datetime", "timestamp", "starts", "ends"]) {
        FieldKind::DateTime
    } else if has(&["date", "day", "birthday", "deadline", "due", "when", "dob", "dates"]) {
        FieldKind::Date
    } else if has(&["email", "e-mail"]) {
        FieldKind::Email
    } else if has(&["phone", "mobile", "telephone"]) {
        FieldKind::Phone
    } else if has(&["url", "link", "website", "homepage"]) {
        FieldKind::Url
    } else if has(&["price", "cost", "amount", "fee", "budget", "salary", "total", "money", "spent"]) {
        FieldKind::Money
    } else if has(&[
        "count", "number", "quantity", "qty", "pages", "age", "year", "rating", "score", "points", "minutes",
        "hours", "duration", "size", "weight", "height", "length", "distance", "stars", "votes", "seats",
        "capacity", "calories",
    ]) {
        FieldKind::Integer
    } else if [
        "is",
        "has",
        "done",
        "paid",
        "completed",
        "finished",
        "active",
        "available",
        "attended",
        "confirmed",
    ]
    .contains(&first)
    {
        FieldKind::Boolean
    } else if has(&[
        "notes",
        "note",
        "description",
        "comment",
        "comments",
        "review",
        "summary",
        "bio",
        "thoughts",
    ]) {
        FieldKind::LongText
    } else {
        FieldKind::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(entities: &[Entity]) -> Vec<(String, Vec<(String, FieldKind)>)> {
        entities
            .iter()
            .map(|e| (e.name.clone(), e.fields.iter().map(|f| (f.name.clone(), f.kind.clone())).collect()))
            .collect()
    }

    #[test]
    fn the_book_club_answer() {
        let entities = from_answer(
            "books with title, author and date read; meetings with date and host; snacks: who brings what",
        );
        let text = FieldKind::Text;
        assert_eq!(
            shape(&entities),
            vec![
                (
                    "book".into(),
                    vec![
                        ("title".into(), text.clone()),
                        ("author".into(), text.clone()),
                        ("date_read".into(), FieldKind::Date)
                    ]
                ),
                ("meeting".into(), vec![("date".into(), FieldKind::Date), ("host".into(), text.clone())]),
                (
                    "snack_assignment".into(),
                    vec![
                        ("person".into(), text.clone()),
                        ("snack".into(), text),
                        ("meeting".into(), FieldKind::Reference("meeting".into()))
                    ]
                ),
            ]
        );
        assert_eq!(entities[0].plural_label, "Books");
        assert_eq!(entities[2].label, "Snack Assignment");
        assert!(entities[0].fields[0].required && !entities[0].fields[2].required);
    }

    #[test]
    fn plain_lists_references_and_types() {
        let entities =
            from_answer("Players with name, email and number of goals. Games with date, opponent, players");
        assert_eq!(entities[0].name, "player");
        let kinds: Vec<FieldKind> = entities[0].fields.iter().map(|f| f.kind.clone()).collect();
        assert_eq!(kinds, vec![FieldKind::Text, FieldKind::Email, FieldKind::Integer]);
        let players = entities[1].fields.iter().find(|f| f.name == "player").expect("a reference");
        assert_eq!(players.kind, FieldKind::Reference("player".into()));

        let names: Vec<String> =
            from_answer("recipes, ingredients and shopping lists").into_iter().map(|e| e.name).collect();
        assert_eq!(names, vec!["recipe", "ingredient", "shopping"]);
        assert!(from_answer("   ").is_empty());
        assert_eq!(kind_of(&["is".into(), "paid".into()]), FieldKind::Boolean);
        assert_eq!(kind_of(&["price".into()]), FieldKind::Money);
        assert_eq!(kind_of(&["start".into(), "time".into()]), FieldKind::DateTime);
    }
}
