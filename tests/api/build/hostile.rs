//! A spec whose text is hostile (quotes, backslashes, braces, markup, SQL) still becomes a crate
//! that compiles and shows that text as text: spec strings stay inside their literals.

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use vibe_host::build::codegen;
use vibe_host::build::plan::Visitor;
use vibe_host::spec;

use super::LiveApp;

const HOSTILE: &str = "\"); panic!(\"{}\"); // */ <script>alert('x')</script> \\ '); DROP TABLE books; --";

#[sqlx::test(migrations = "../migrations")]
async fn hostile_spec_text_stays_text(db: PgPool) {
    let mut value = crate::specs::example("book-club");
    value["app"]["summary"] = json!(HOSTILE);
    value["app"]["description"] = json!("{{name}} «summary» {}");
    value["entities"][0]["label_plural"] = json!("Books \"quoted\" {x}");
    value["entities"][0]["fields"][0]["label"] = json!("Title\\\"); x");
    value["entities"][0]["fields"][2]["values"][0]["label"] = json!("Sugg'ested\"}");
    value["pages"][0]["title"] = json!("Home {} \"x\"");
    value["sample_data"][0]["values"]["title"] = json!(HOSTILE);
    let spec = spec::parse(&value).unwrap_or_else(|violations| panic!("{}", spec::summarize(&violations)));
    let app = codegen::generate(&spec, None).unwrap();
    let live = LiveApp::deploy(db, &spec, &app).await;

    let (status, home) = live.send(Method::GET, "/", Visitor::Anonymous, None).await;
    assert_eq!(status, StatusCode::OK, "{home}");
    assert!(home.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), "escaped on the page: {home}");
    assert!(home.contains("{{name}} «summary» {}"), "braces and markers are plain text: {home}");
    assert!(home.contains("Home {} &quot;x&quot;"), "{home}");
    let (status, body) = live.send(Method::GET, "/api/books/1", Visitor::Anonymous, None).await;
    assert_eq!(status, StatusCode::OK);
    let book: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(book["title"], HOSTILE, "the sample row holds the text exactly");
}
