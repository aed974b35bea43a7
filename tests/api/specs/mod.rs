//! App specs: the schema and its semantic rules (`validation`), the API (`api`), and the pipeline
//! write path every writer shares (`pipeline`).

mod api;
mod pipeline;
mod validation;

use serde_json::Value;

/// The example spec shipped with the schema.
pub fn book_club() -> Value {
    example("book-club")
}

/// The example spec `host/schemas/examples/{name}.json`.
pub fn example(name: &str) -> Value {
    let path = format!("{}/schemas/examples/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The example with the value at `pointer` replaced by `value` (or removed, for `Value::Null`
/// given as `None`).
pub fn changed(pointer: &str, value: Option<Value>) -> Value {
    let mut spec = book_club();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = spec.pointer_mut(parent).unwrap_or_else(|| panic!("no {parent} in the example"));
    match (parent, value) {
        (Value::Object(members), Some(value)) => {
            members.insert(key.to_owned(), value);
        }
        (Value::Object(members), None) => {
            members.remove(key).unwrap_or_else(|| panic!("no {pointer} in the example"));
        }
        (Value::Array(items), Some(value)) if key == "-" => items.push(value),
        (Value::Array(items), Some(value)) => items[key.parse::<usize>().unwrap()] = value,
        (Value::Array(items), None) => {
            items.remove(key.parse::<usize>().unwrap());
        }
        (other, _) => panic!("{pointer}: cannot change inside {other}"),
    }
    spec
}
