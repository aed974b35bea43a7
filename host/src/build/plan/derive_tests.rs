//! Tests of `derive`: the plans of the example specs cover what the conventions promise, and
//! every placeholder a step uses was captured by an earlier one.

use std::collections::BTreeSet;

use super::*;
use crate::spec;

fn example(name: &str) -> AppSpec {
    let text = match name {
        "book-club" => include_str!("../../../schemas/examples/book-club.json"),
        "room-booking" => include_str!("../../../schemas/examples/room-booking.json"),
        _ => include_str!("../../../schemas/examples/crm.json"),
    };
    spec::parse_content(text).unwrap_or_else(|violations| panic!("{name}: {}", spec::summarize(&violations)))
}

/// The `{name}` placeholders in `text`.
fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end)
                if after[..end].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') =>
            {
                found.push(after[..end].to_owned());
                rest = &after[end + 1..];
            }
            _ => rest = after,
        }
    }
    found
}

#[test]
fn placeholders_are_captured_before_they_are_used() {
    for name in ["book-club", "room-booking", "crm"] {
        let plan = derive(&example(name));
        let mut captured = BTreeSet::new();
        for case in &plan.cases {
            for step in &case.steps {
                let mut used = placeholders(&step.path);
                match &step.body {
                    Some(Body::Json(body)) => used.extend(placeholders(&body.to_string())),
                    Some(Body::Form(pairs)) => {
                        pairs.iter().for_each(|(_, value)| used.extend(placeholders(value)))
                    }
                    None => {}
                }
                for placeholder in used {
                    assert!(
                        captured.contains(&placeholder),
                        "{name}: {} uses {{{placeholder}}} before it is captured",
                        case.name
                    );
                }
                captured.extend(step.capture.iter().map(|(name, _)| name.clone()));
            }
        }
    }
}

#[test]
fn the_book_club_plan_covers_every_entity_and_role() {
    let plan = derive(&example("book-club"));
    let names: Vec<&str> = plan.cases.iter().map(|case| case.name.as_str()).collect();
    for expected in [
        "the app answers its health check",
        "Books: create, read, list and update over JSON",
        "Meetings: the pages render, and the forms create and update",
        "Snack assignments: delete over JSON and through the confirmation",
        "Books: invalid values are refused with the field named",
        "Meetings: each role may do what the spec allows, and no more",
        "Books: the custom actions",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:#?}");
    }
    let steps: Vec<&Step> = plan.cases.iter().flat_map(|case| &case.steps).collect();
    // A member may create books but not meetings; visitors may read books but not create them.
    let member_meeting = steps
        .iter()
        .find(|s| s.method == "POST" && s.path == "/api/meetings" && s.visitor == Visitor::SignedIn(1));
    assert_eq!(member_meeting.map(|s| s.expect_status), Some(403));
    let visitor_book = steps
        .iter()
        .find(|s| s.method == "POST" && s.path == "/api/books" && s.visitor == Visitor::Anonymous);
    assert_eq!(visitor_book.map(|s| s.expect_status), Some(401));
    let missing_title = steps.iter().find(|s| s.expect_status == 422 && s.expect_contains == ["\"title\""]);
    assert!(missing_title.is_some(), "a missing title is a 422 naming it");
}

#[test]
fn the_crm_assigns_the_sales_role_and_wants_a_sign_in() {
    let plan = derive(&example("crm"));
    let steps: Vec<&Step> = plan.cases.iter().flat_map(|case| &case.steps).collect();
    let sales = Visitor::user_id(2);
    assert!(steps.iter().any(|s| s.method == "PUT"
        && s.path == format!("/api/members/{sales}")
        && s.visitor == Visitor::Owner));
    // Sales may create deals, viewers may not, anonymous visitors must sign in.
    let create = |visitor| {
        steps
            .iter()
            .find(|s| s.method == "POST" && s.path == "/api/deals" && s.visitor == visitor)
            .map(|s| s.expect_status)
    };
    assert_eq!(create(Visitor::SignedIn(2)), Some(201));
    assert_eq!(create(Visitor::SignedIn(1)), Some(403));
    assert_eq!(create(Visitor::Anonymous), Some(401));
    let home = steps.iter().find(|s| s.path == "/" && s.visitor == Visitor::Anonymous).unwrap();
    assert_eq!(home.expect_status, 401);
}
