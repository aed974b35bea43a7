//! The guestbook's data: an entry, its validation (shared by the HTML form and the JSON API)
//! and its SQL.

use serde::Serialize;
use vibe_app_sdk::prelude::*;

/// One signed entry.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub message: String,
    pub rating: Option<i64>,
    pub visited_on: Option<Date>,
    pub created_at: Timestamp,
}

impl FromRow for Entry {
    fn from_row(row: &Row) -> Result<Entry, db::Error> {
        Ok(Entry {
            id: row.get("id")?,
            name: row.get("name")?,
            email: row.get("email")?,
            message: row.get("message")?,
            rating: row.get("rating")?,
            visited_on: row.get("visited_on")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// What a visitor submits.
#[derive(Debug)]
pub struct NewEntry {
    pub name: String,
    pub email: Option<String>,
    pub message: String,
    pub rating: Option<i64>,
    pub visited_on: Option<Date>,
}

/// The submitted entry, or a message per invalid field.
pub fn check(form: &Form) -> Result<NewEntry, FormErrors> {
    let mut check = form.check();
    let entry = NewEntry {
        name: check.text("name").max_len(80).required(),
        email: check.email("email").optional(),
        message: check.text("message").max_len(2000).required(),
        rating: check.int("rating").min(1).max(5).optional(),
        visited_on: check.date("visited_on").optional(),
    };
    check.finish(entry)
}

const COLUMNS: &str = "id, name, email, message, rating, visited_on, created_at";

/// The latest entries, newest first.
pub fn latest(limit: i64) -> Result<Vec<Entry>, db::Error> {
    db::query_as(&format!("SELECT {COLUMNS} FROM entries ORDER BY id DESC LIMIT $1"), &[&limit])
}

/// Entry `id`, if it exists.
pub fn find(id: i64) -> Result<Option<Entry>, db::Error> {
    db::query_one_as(&format!("SELECT {COLUMNS} FROM entries WHERE id = $1"), &[&id])
}

/// Stores `entry` and returns it as stored.
pub fn insert(entry: &NewEntry) -> Result<Entry, db::Error> {
    let sql = format!(
        "INSERT INTO entries (name, email, message, rating, visited_on) \
         VALUES ($1, $2, $3, $4, $5::date) RETURNING {COLUMNS}"
    );
    let params: [&dyn db::ToSql; 5] =
        [&entry.name, &entry.email, &entry.message, &entry.rating, &entry.visited_on];
    db::query_one_as(&sql, &params)?.ok_or(db::Error::NoRow)
}

/// Deletes entry `id`; whether it existed.
pub fn delete(id: i64) -> Result<bool, db::Error> {
    Ok(db::execute("DELETE FROM entries WHERE id = $1", &[&id])? > 0)
}

/// How many entries there are.
pub fn count() -> Result<i64, db::Error> {
    db::query_value("SELECT count(*) FROM entries", &[])
}

/// Counts this visit in the key-value store and returns the total.
pub fn count_visit() -> Result<u64, vibe_app_sdk::kv::Error> {
    let visits = kv::get_json::<u64>("visits")?.unwrap_or(0) + 1;
    kv::set_json("visits", &visits)?;
    Ok(visits)
}

/// Whether `given` is the owner's `admin_key` secret (compared in constant time).
pub fn is_admin(given: Option<&str>) -> Result<bool> {
    let secret = config::secret("admin_key")?;
    let (given, expected) = (given.unwrap_or("").as_bytes(), secret.expose().as_bytes());
    let differences = given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    Ok(given.len() == expected.len() && differences == 0)
}
