//! The JSON API: the same entries and the same validation as the pages, for programs.

use vibe_app_sdk::prelude::*;
use vibe_app_sdk::serde_json::json;

use crate::entries;

/// `GET /api/entries?limit=n` (at most 100).
pub fn list(req: &Request) -> Result<Response> {
    let limit = req.query_as::<i64>("limit")?.unwrap_or(50).clamp(1, 100);
    Ok(Response::json(&entries::latest(limit)?))
}

/// `POST /api/entries`: 201 with the stored entry, or 422 naming each invalid field.
pub fn create(req: &Request) -> Result<Response> {
    let entry = entries::check(&req.form()?)?;
    let entry = entries::insert(&entry)?;
    Ok(Response::json(&entry)
        .with_status(201)
        .with_header("location", req.url(&format!("/api/entries/{}", entry.id))))
}

/// `GET /api/entries/{id}`.
pub fn show(req: &Request) -> Result<Response> {
    let entry = entries::find(req.param("id")?)?.ok_or_else(Error::not_found)?;
    Ok(Response::json(&entry))
}

/// `DELETE /api/entries/{id}` with `Authorization: Bearer <owner's key>`.
pub fn delete(req: &Request) -> Result<Response> {
    let id: i64 = req.param("id")?;
    let key = req.header("authorization").and_then(|value| value.strip_prefix("Bearer "));
    if !entries::is_admin(key)? {
        return Err(Error::forbidden("Only the owner may delete entries."));
    }
    if !entries::delete(id)? {
        return Err(Error::not_found());
    }
    Ok(Response::no_content())
}

/// `GET /api/stats`: visits (key-value store) and entries (database).
pub fn stats(_req: &Request) -> Result<Response> {
    let visits = kv::get_json::<u64>("visits")?.unwrap_or(0);
    Ok(Response::json(&json!({ "visits": visits, "entries": entries::count()? })))
}
