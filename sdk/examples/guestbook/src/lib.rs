//! The SDK's example app: a guestbook. Visitors sign it through an HTML form (validated on the
//! server, re-shown with messages when invalid) or the JSON API; entries live in the app's
//! database table (`migrations/0001_entries.sql`), the visit counter in its key-value store, the
//! page title (`title`) and the owner's key for deleting (`admin_key`, a secret) in its
//! configuration.
//!
//! With the setting `debug` set to `true`, `GET /debug/panic` panics, to show what a panic
//! becomes (a 500 with a request id, and the panic's message in the app's log).

mod api;
mod entries;
mod pages;

use vibe_app_sdk::prelude::*;

/// The app's routes.
pub fn app() -> Router {
    let router = Router::new()
        .get("/", pages::home)
        .post("/entries", pages::sign)
        .get("/entries/{id}", pages::show)
        .get("/entries/{id}/delete", pages::confirm_delete)
        .post("/entries/{id}/delete", pages::delete)
        .get("/api/entries", api::list)
        .post("/api/entries", api::create)
        .get("/api/entries/{id}", api::show)
        .delete("/api/entries/{id}", api::delete)
        .get("/api/stats", api::stats);
    if config::get("debug").as_deref() == Some("true") {
        return router.get("/debug/panic", |_| panic!("a panic, on purpose"));
    }
    router
}

vibe_app_sdk::export!(app);

#[cfg(test)]
mod tests {
    use vibe_app_sdk::{Method, Request};

    use super::app;

    fn post(target: &str, body: &str) -> Request {
        Request::new(Method::Post, target)
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(body)
    }

    #[test]
    fn invalid_entries_are_refused_before_the_database() {
        let response = app().handle(post("/api/entries", "name=&rating=9&email=nope"));
        assert_eq!(response.status(), 422);
        let body = response.body_text();
        for expected in
            ["\"name\":\"is required\"", "\"rating\":\"must be at most 5\"", "\"message\":\"is required\""]
        {
            assert!(body.contains(expected), "{expected} in {body}");
        }
    }

    #[test]
    fn without_the_runtime_the_database_is_unavailable() {
        let response = app().handle(post("/api/entries", "name=Ada&message=Hello"));
        assert_eq!(response.status(), 503);
        assert_eq!(app().handle(Request::new(Method::Get, "/nowhere")).status(), 404);
    }
}
