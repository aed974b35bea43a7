//! Tests of `router.rs`: matching, captures, precedence, 404/405/OPTIONS/HEAD, the cross-origin
//! rule and panics.

use super::*;

fn echo(name: &'static str) -> impl Fn(&Request) -> Result<Response> {
    move |request| {
        let params: Vec<String> = ["id", "rest", "slug"]
            .iter()
            .filter_map(|param| request.param::<String>(param).ok().map(|value| format!("{param}={value}")))
            .collect();
        Ok(Response::text(format!("{name} {}", params.join(" "))))
    }
}

fn router() -> Router {
    Router::new()
        .get("/", echo("home"))
        .get("/entries/{id}", echo("show"))
        .post("/entries/{id}", echo("update"))
        .get("/entries/new", echo("new"))
        .get("/entries", echo("list"))
        .delete("/entries/{id}/tags/{slug}", echo("untag"))
        .get("/files/{*rest}", echo("file"))
        .get("/boom", |_| panic!("kaboom"))
        .get("/fail", |_| Err(Error::conflict("taken")))
}

fn call(method: Method, target: &str) -> Response {
    router().handle(Request::new(method, target))
}

fn body(method: Method, target: &str) -> String {
    call(method, target).body_text()
}

#[test]
fn matches_literals_and_captures() {
    assert_eq!(body(Method::Get, "/"), "home ");
    assert_eq!(body(Method::Get, "/entries"), "list ");
    assert_eq!(body(Method::Get, "/entries/"), "list ", "a trailing slash is ignored");
    assert_eq!(body(Method::Get, "/entries/42"), "show id=42");
    assert_eq!(body(Method::Get, "/entries/a%20b?x=1"), "show id=a b");
    assert_eq!(body(Method::Post, "/entries/42"), "update id=42");
    assert_eq!(body(Method::Delete, "/entries/7/tags/rust"), "untag id=7 slug=rust");
    assert_eq!(body(Method::Get, "/files/a/b/c.txt"), "file rest=a/b/c.txt");
}

#[test]
fn the_most_literal_pattern_wins_whatever_the_order() {
    assert_eq!(body(Method::Get, "/entries/new"), "new ");
}

#[test]
fn unknown_paths_are_404_and_other_methods_405() {
    assert_eq!(call(Method::Get, "/nope").status(), 404);
    assert_eq!(call(Method::Get, "/entries/1/more").status(), 404);
    assert_eq!(call(Method::Get, "/entries/%FF").status(), 404);
    let response = call(Method::Put, "/entries/1");
    assert_eq!(response.status(), 405);
    assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS, POST"));
    let response = call(Method::Options, "/entries/1");
    assert_eq!((response.status(), response.header("allow")), (204, Some("GET, HEAD, OPTIONS, POST")));
}

#[test]
fn head_runs_get_without_a_body() {
    let response = call(Method::Head, "/entries/1");
    assert_eq!(response.status(), 200);
    assert!(response.body().is_empty());
    assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
}

#[test]
fn errors_answer_as_json_or_html() {
    let response = call(Method::Get, "/fail");
    assert_eq!(response.status(), 409);
    assert!(response.body_text().contains("<h1>409 Conflict</h1>"), "{}", response.body_text());
    let response =
        router().handle(Request::new(Method::Get, "/fail").with_header("accept", "application/json"));
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert!(response.body_text().contains("\"code\":\"conflict\""));
    let response = call(Method::Get, "/api/nothing");
    assert_eq!((response.status(), response.header("content-type")), (404, Some("application/json")));
}

#[test]
fn panics_become_500() {
    let response = call(Method::Get, "/boom");
    assert_eq!(response.status(), 500);
    assert!(!response.body_text().contains("kaboom"), "the panic message is logged, not shown");
}

#[test]
fn cross_origin_writes_are_refused_unless_allowed() {
    let request = || {
        Request::new(Method::Post, "/entries/1")
            .with_header("host", "a.test")
            .with_header("origin", "http://b.test")
    };
    assert_eq!(router().handle(request()).status(), 403);
    assert_eq!(router().allow_cross_origin().handle(request()).status(), 200);
    let read = Request::new(Method::Get, "/entries/1").with_header("sec-fetch-site", "cross-site");
    assert_eq!(router().handle(read).status(), 200, "reading from another site is fine");
}

#[test]
fn malformed_patterns_are_refused() {
    for pattern in ["entries", "/a/{}", "/a/x{id}", "/a/{*rest}/b", "/a/{id", "/{*}"] {
        assert!(parse_pattern(pattern).is_err(), "{pattern}");
    }
    assert!(parse_pattern("/").unwrap().is_empty());
}
