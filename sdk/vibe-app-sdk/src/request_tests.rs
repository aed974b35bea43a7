//! Tests of `request.rs`: query, params, forms, JSON, prefixes and the cross-origin rule.

use serde::Deserialize;

use super::*;

fn post(body: &str, content_type: &str) -> Request {
    Request::new(Method::Post, "/x").with_header("Content-Type", content_type).with_body(body)
}

#[test]
fn splits_path_and_query() {
    let request = Request::new(Method::Get, "/search?q=a+b&page=2&page=3&bad=%FF");
    assert_eq!(request.path(), "/search");
    assert_eq!(request.query("q"), None, "an undecodable query reads as empty");
    let request = Request::new(Method::Get, "/search?q=a+b&page=2&page=3");
    assert_eq!(request.query("q"), Some("a b"));
    assert_eq!(request.query_as::<u32>("page").unwrap(), Some(2));
    assert_eq!(request.query_as::<u32>("missing").unwrap(), None);
    assert_eq!(request.query_as::<u32>("q").unwrap_err().status(), 400);
    assert_eq!(Request::new(Method::Get, "").path(), "/");
}

#[test]
fn params_parse_or_are_not_found() {
    let mut request = Request::new(Method::Get, "/books/12");
    request.set_params(vec![("id".into(), "12".into()), ("slug".into(), "a b".into())]);
    assert_eq!(request.param::<i64>("id").unwrap(), 12);
    assert_eq!(request.param::<String>("slug").unwrap(), "a b");
    assert_eq!(request.param::<i64>("slug").unwrap_err().status(), 404);
    assert_eq!(request.param::<i64>("nope").unwrap_err().status(), 500);
}

#[test]
fn forms_from_urlencoded_or_json() {
    let form =
        post("title=Dune&pages=412", "application/x-www-form-urlencoded; charset=UTF-8").form().unwrap();
    assert_eq!((form.value("title"), form.value("pages")), ("Dune", "412"));
    let form = Request::new(Method::Post, "/x").with_body("a=1").form().unwrap();
    assert_eq!(form.value("a"), "1");
    let form = post(r#"{"title":"Dune","pages":412}"#, "application/json").form().unwrap();
    assert_eq!(form.value("pages"), "412");
    assert_eq!(post("{", "application/json").form().unwrap_err().status(), 400);
    assert_eq!(post("x", "multipart/form-data; boundary=x").form().unwrap_err().status(), 415);
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
}

#[test]
fn json_errors_say_what_and_where() {
    let entry: Entry = post(r#"{"name":"Ada"}"#, "application/json").json().unwrap();
    assert_eq!(entry, Entry { name: "Ada".into() });
    let error = post(r#"{"nam":"Ada"}"#, "application/json").json::<Entry>().unwrap_err();
    assert_eq!(error.status(), 400);
    assert!(error.message().contains("unknown field `nam`"), "{}", error.message());
    assert!(error.message().contains("line 1 column"), "{}", error.message());
    let error = post(r#"{"name":"Ada"}"#, "text/plain").json::<Entry>().unwrap_err();
    assert_eq!(error.status(), 415);
    let ok: Entry = Request::new(Method::Post, "/x").with_body(r#"{"name":"x"}"#).json().unwrap();
    assert_eq!(ok.name, "x");
}

#[test]
fn wants_json_by_accept_body_or_path() {
    assert!(!Request::new(Method::Get, "/").with_header("accept", "text/html,*/*").wants_json());
    assert!(Request::new(Method::Get, "/").with_header("accept", "application/json").wants_json());
    assert!(Request::new(Method::Get, "/api/entries").wants_json());
    assert!(Request::new(Method::Get, "/api").wants_json());
    assert!(!Request::new(Method::Get, "/apical").wants_json());
    assert!(post("{}", "application/json").wants_json());
}

#[test]
fn prefix_only_from_plain_paths() {
    let with = |prefix: &str| Request::new(Method::Get, "/").with_header("x-forwarded-prefix", prefix);
    assert_eq!(with("/apps/guestbook/").url("/entries"), "/apps/guestbook/entries");
    assert_eq!(with("//evil.example").url("/x"), "/x");
    assert_eq!(with("https://evil.example").url("/x"), "/x");
    assert_eq!(with("/a b").url("/x"), "/x");
    assert_eq!(Request::new(Method::Get, "/").url("/x"), "/x");
    let redirect = with("/apps/g").redirect("/");
    assert_eq!(redirect.header("location"), Some("/apps/g/"));
}

#[test]
fn cross_origin_by_fetch_metadata_or_origin() {
    let base = || Request::new(Method::Post, "/").with_header("host", "guestbook.apps.localhost");
    assert!(!base().is_cross_origin(), "no browser headers: not a cross-site form");
    assert!(!base().with_header("sec-fetch-site", "same-origin").is_cross_origin());
    assert!(!base().with_header("sec-fetch-site", "none").is_cross_origin());
    assert!(base().with_header("sec-fetch-site", "same-site").is_cross_origin(), "another app");
    assert!(base().with_header("sec-fetch-site", "cross-site").is_cross_origin());
    assert!(!base().with_header("origin", "http://guestbook.apps.localhost").is_cross_origin());
    assert!(base().with_header("origin", "http://evil.apps.localhost").is_cross_origin());
    assert!(base().with_header("origin", "null").is_cross_origin());
}
