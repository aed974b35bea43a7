//! The example specs as live apps: pages and JSON endpoints answered by the generated code, with
//! the identity the platform vouches for.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use vibe_host::build::plan::{self, Visitor};

use super::{LiveApp, generated};

#[sqlx::test(migrations = "../migrations")]
async fn the_book_club_serves_its_pages_api_and_sample_data(db: PgPool) {
    let (spec, app) = generated("book-club");
    assert!(!plan::derive(&spec).cases.is_empty());
    let live = LiveApp::deploy(db.clone(), &spec, &app).await;

    // Sample data is there; visitors see the reading list, not the meetings.
    let (status, home) = live.send(Method::GET, "/", Visitor::Anonymous, None).await;
    assert_eq!(status, StatusCode::OK, "{home}");
    assert!(home.contains("<h1>Book Club</h1>") && home.contains("/apps/book-club/books"), "{home}");
    assert!(!home.contains("/apps/book-club/meetings"), "visitors do not see meetings: {home}");
    let (status, books) = live.send(Method::GET, "/books", Visitor::Anonymous, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(books.contains("Piranesi") && books.contains("The Left Hand of Darkness"), "{books}");
    assert_eq!(
        live.send(Method::GET, "/meetings", Visitor::Anonymous, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(live.send(Method::GET, "/meetings", Visitor::SignedIn(1), None).await.0, StatusCode::OK);

    // A member suggests a book over JSON; the default status fills in.
    let (status, body) = live
        .send(
            Method::POST,
            "/api/books",
            Visitor::SignedIn(1),
            Some(json!({"title": "Kindred", "author": "Octavia E. Butler", "pages": 264})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let book: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (book["id"].as_i64(), &book["status"], &book["pages"]),
        (Some(4), &json!("suggested"), &json!(264)),
        "{book}"
    );
    assert!(book["created_at"].as_str().is_some_and(|at| at.ends_with('Z')), "{book}");
    // But may not edit it; the owner (organizer) may, and starts reading it.
    let (status, _) =
        live.send(Method::PATCH, "/api/books/4", Visitor::SignedIn(1), Some(json!({"pages": 265}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = live
        .send(Method::PATCH, "/api/books/4", Visitor::Owner, Some(json!({"pages": 265, "link": null})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("\"pages\":265") && body.contains("\"title\":\"Kindred\""),
        "a partial update keeps the rest: {body}"
    );
    let (status, body) =
        live.send(Method::POST, "/api/books/4/actions/start_reading", Visitor::Owner, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"status\":\"reading\""), "{body}");

    // Validation: a message per field, over JSON and on the form.
    let (status, body) = live
        .send(
            Method::POST,
            "/api/books",
            Visitor::Owner,
            Some(json!({"title": "", "author": "x", "pages": 0, "link": "ftp://x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = serde_json::from_str(&body).unwrap();
    let fields = &error["error"]["fields"];
    assert_eq!(fields["title"], "is required", "{body}");
    assert!(fields["pages"].is_string() && fields["link"].is_string(), "{body}");
    let (status, page) = live
        .post_form("/books", Visitor::Owner, &[("title", "<b>Bold</b>"), ("author", ""), ("pages", "12")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("is required") && page.contains("value=\"&lt;b&gt;Bold&lt;/b&gt;\""),
        "the form keeps what was typed, escaped: {page}"
    );

    // A meeting refers to a book: the book's page lists it; a reference to nothing is a 422.
    let meeting = json!({"starts_at": "2031-05-01T18:00:00+02:00", "book": 4, "place": "Park"});
    let (status, body) = live.send(Method::POST, "/api/meetings", Visitor::Owner, Some(meeting)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.contains("\"starts_at\":\"2031-05-01T16:00:00Z\"") && body.contains("\"book\":4"), "{body}");
    let (status, page) = live.send(Method::GET, "/books/4", Visitor::SignedIn(1), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Meetings (Book)") && page.contains("2031-05-01T16:00:00Z"), "{page}");
    let orphan = json!({"starts_at": "2031-06-01T18:00:00Z", "book": 999, "place": "Park"});
    let (status, body) = live.send(Method::POST, "/api/meetings", Visitor::Owner, Some(orphan)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A book with meetings cannot be deleted (restrict): 409; the form deletes one without.
    assert_eq!(live.send(Method::DELETE, "/api/books/4", Visitor::Owner, None).await.0, StatusCode::CONFLICT);
    let (status, location) = live.post_form("/books/3/delete", Visitor::Owner, &[]).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/apps/book-club/books"));
    assert_eq!(live.send(Method::GET, "/api/books/3", Visitor::Owner, None).await.0, StatusCode::NOT_FOUND);

    let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM app_{}.books", live.id.simple()))
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(rows, 3, "two samples left and the new book");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_crm_wants_a_sign_in_and_follows_assigned_roles(db: PgPool) {
    let (spec, app) = generated("crm");
    let live = LiveApp::deploy(db, &spec, &app).await;
    assert_eq!(live.send(Method::GET, "/", Visitor::Anonymous, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        live.send(Method::GET, "/api/companies", Visitor::Anonymous, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, companies) = live.send(Method::GET, "/api/companies", Visitor::SignedIn(2), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(companies.contains("Acme Ltd"), "{companies}");

    // A viewer may not add a deal until the owner makes them sales.
    let deal = json!({"title": "Anvils", "company": 1, "amount": 99.95});
    assert_eq!(
        live.send(Method::POST, "/api/deals", Visitor::SignedIn(2), Some(deal.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    let user = Visitor::user_id(2);
    let (status, body) = live
        .send(
            Method::PUT,
            &format!("/api/members/{user}"),
            Visitor::SignedIn(2),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the owner assigns roles: {body}");
    let (status, body) = live
        .send(Method::PUT, &format!("/api/members/{user}"), Visitor::Owner, Some(json!({"role": "sales"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = live.send(Method::POST, "/api/deals", Visitor::SignedIn(2), Some(deal)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.contains("\"amount\":99.95") && body.contains("\"stage\":\"lead\""), "{body}");
    // Sales may not delete; the pattern of a phone number is checked by the database's regex.
    assert_eq!(
        live.send(Method::DELETE, "/api/deals/2", Visitor::SignedIn(2), None).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = live
        .send(
            Method::POST,
            "/api/contacts",
            Visitor::SignedIn(2),
            Some(json!({"full_name": "Road Runner", "phone": "beep beep"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("\"phone\""), "{body}");
    let (status, page) = live.send(Method::GET, "/members", Visitor::Owner, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&user.to_string()) && page.contains("Sales"), "{page}");
}

#[sqlx::test(migrations = "../migrations")]
async fn room_bookings_refer_to_rooms_and_cascade(db: PgPool) {
    let (spec, app) = generated("room-booking");
    let live = LiveApp::deploy(db, &spec, &app).await;
    let (status, form) = live.send(Method::GET, "/bookings/new", Visitor::SignedIn(1), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("<option value=\"1\">Lighthouse</option>"), "rooms are offered by name: {form}");
    let (status, location) = live
        .post_form(
            "/bookings",
            Visitor::Owner,
            &[
                ("title", "Retro"),
                ("room", "2"),
                ("day", "2031-04-01"),
                ("starts_at", "2031-04-01T10:00"),
                ("hours", "2"),
                ("booked_by", "cy@example.com"),
                ("status", "tentative"),
            ],
        )
        .await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/apps/room-booking/bookings/3"));
    let (status, page) = live.send(Method::GET, "/bookings/3", Visitor::Owner, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Attic") && page.contains("2031-04-01T10:00:00Z") && page.contains("Confirm"),
        "{page}"
    );
    let (status, body) = live.send(Method::GET, "/api/bookings/3", Visitor::SignedIn(1), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"day\":\"2031-04-01\"") && body.contains("\"room\":2"), "{body}");
    // Deleting a room deletes its bookings (cascade).
    assert_eq!(
        live.send(Method::DELETE, "/api/rooms/2", Visitor::Owner, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        live.send(Method::GET, "/api/bookings/3", Visitor::Owner, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        live.send(Method::DELETE, "/api/rooms/1", Visitor::SignedIn(1), None).await.0,
        StatusCode::FORBIDDEN
    );
}
