//! The HTML pages: the book with its sign form, one entry, and deleting one (with a
//! confirmation that asks for the owner's key).

use vibe_app_sdk::prelude::*;

use crate::entries::{self, Entry};

fn title() -> String {
    config::get_or("title", "Guestbook")
}

/// `GET /`: counts the visit, lists the latest entries, offers the form.
pub fn home(req: &Request) -> Result<Response> {
    let visits = entries::count_visit()?;
    Ok(Response::html(book(req, visits, &Form::new(), &FormErrors::new())?))
}

/// `POST /entries`: stores a valid entry and shows it; an invalid one gets the form back (422)
/// with what the visitor typed and a message per field.
pub fn sign(req: &Request) -> Result<Response> {
    let form = req.form()?;
    match entries::check(&form) {
        Ok(entry) => {
            let entry = entries::insert(&entry)?;
            vibe_app_sdk::info!("entry {} signed", entry.id);
            Ok(req.redirect(&format!("/entries/{}", entry.id)))
        }
        Err(errors) => {
            let visits = kv::get_json::<u64>("visits")?.unwrap_or(0);
            Ok(Response::html(book(req, visits, &form, &errors)?).with_status(422))
        }
    }
}

fn book(req: &Request, visits: u64, values: &Form, errors: &FormErrors) -> Result<Html> {
    let items: Html = entries::latest(50)?
        .iter()
        .map(|entry| {
            let link = req.url(&format!("/entries/{}", entry.id));
            html!("<li><a href=\"{}\">{}</a>: {}</li>", link, entry.name, entry.message)
        })
        .collect();
    let body = html!(
        "<h1>{}</h1><p>{} visits.</p><ul>{}</ul><h2>Sign the book</h2>\
         <form method=\"post\" action=\"{}\">{}{}{}{}{}<button>Sign</button></form>",
        title(),
        visits,
        items,
        req.url("/entries"),
        field(Input::Text, "name", "Your name", values, errors),
        field(Input::Email, "email", "Email (optional)", values, errors),
        field(Input::TextArea, "message", "Message", values, errors),
        field(Input::Number, "rating", "Rating, 1 to 5 (optional)", values, errors),
        field(Input::Date, "visited_on", "Visited on (optional)", values, errors)
    );
    Ok(page(&title(), body))
}

fn entry_or_404(req: &Request) -> Result<Entry> {
    entries::find(req.param("id")?)?.ok_or_else(Error::not_found)
}

/// `GET /entries/{id}`.
pub fn show(req: &Request) -> Result<Response> {
    let entry = entry_or_404(req)?;
    let rating = entry.rating.map(|rating| html!("<p>Rating: {} of 5</p>", rating));
    let visited = entry.visited_on.map(|date| html!("<p>Visited on {}</p>", date));
    let body = html!(
        "<h1>{}</h1><p>{}</p>{}{}<p><small>Signed {}</small></p>\
         <p><a href=\"{}\">Back</a> · <a href=\"{}\">Delete</a></p>",
        entry.name,
        entry.message,
        rating,
        visited,
        entry.created_at,
        req.url("/"),
        req.url(&format!("/entries/{}/delete", entry.id))
    );
    Ok(Response::html(page(&entry.name, body)))
}

/// `GET /entries/{id}/delete`: the confirmation.
pub fn confirm_delete(req: &Request) -> Result<Response> {
    let entry = entry_or_404(req)?;
    let body = html!(
        "<h1>Delete the entry by {}?</h1><form method=\"post\">{}<button>Delete</button></form>",
        entry.name,
        field(Input::Password, "key", "Owner's key", &Form::new(), &FormErrors::new())
    );
    Ok(Response::html(page("Delete", body)))
}

/// `POST /entries/{id}/delete`: only with the owner's key.
pub fn delete(req: &Request) -> Result<Response> {
    let id: i64 = req.param("id")?;
    if !entries::is_admin(req.form()?.get("key"))? {
        return Err(Error::forbidden("Only the owner may delete entries."));
    }
    if !entries::delete(id)? {
        return Err(Error::not_found());
    }
    Ok(req.redirect("/"))
}
