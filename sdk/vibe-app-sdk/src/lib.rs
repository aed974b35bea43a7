//! `vibe-app-sdk`: the crate Vibe apps are written on. An app is a `wasi:http` component
//! (`cargo build --release --target wasm32-wasip2`) that may use its own database, key-value
//! store, configuration and log (the `vibe:app@0.1.0` world); this crate turns that into a
//! router of plain functions:
//!
//! ```no_run
//! use vibe_app_sdk::prelude::*;
//!
//! fn app() -> Router {
//!     Router::new().get("/", home).get("/hello/{name}", hello)
//! }
//!
//! fn home(_req: &Request) -> Result<Response> {
//!     Ok(Response::html(page("Home", html!("<h1>{}</h1>", "Welcome"))))
//! }
//!
//! fn hello(req: &Request) -> Result<Response> {
//!     let name: String = req.param("name")?;
//!     Ok(Response::json(&serde_json::json!({ "hello": name })))
//! }
//!
//! vibe_app_sdk::export!(app);
//! ```
//!
//! What is where: [`router`] (routes, 404/405, cross-origin refusal), [`request`] and
//! [`response`], [`error`](mod@error) (handler errors and the responses they become), [`html`](mod@html) (escaped by
//! default) and [`widgets`] (form inputs), [`form`] and [`validate`] (fields and their checks),
//! [`db`], [`kv`], [`config`], [`log`], [`time`] (dates and timestamps), [`url`] (encoding),
//! [`user`] (who is asking, as the platform vouches).
//! `serve.rs` and `bindings.rs` connect it all to `wasi:http` and the `vibe:app` imports;
//! `sys.rs` stands in for the imports off wasm32, so apps' pure logic is testable on the host.

pub mod config;
pub mod db;
pub mod error;
pub mod form;
pub mod html;
pub mod kv;
pub mod log;
pub mod request;
pub mod response;
pub mod router;
pub mod time;
pub mod url;
pub mod user;
pub mod validate;
pub mod widgets;

#[doc(hidden)]
pub mod bindings;
#[doc(hidden)]
pub mod serve;
mod sys;

pub use error::{Error, Result};
pub use form::Form;
pub use html::{Html, ToHtml, page};
pub use request::{Method, Request};
pub use response::Response;
pub use router::Router;
pub use time::{Date, Timestamp};
pub use user::{Relation, User};
pub use validate::{Check, FormErrors};

/// Re-exported for apps: `serde_json::json!` and friends without another dependency line.
pub use serde_json;

/// What most handlers use: `use vibe_app_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::db::{self, FromRow, Row};
    pub use crate::widgets::{Input, field};
    pub use crate::{
        Date, Error, Form, FormErrors, Html, Method, Relation, Request, Response, Result, Router, Timestamp,
        User, config, html, kv, page,
    };
}

/// Exports the app: `vibe_app_sdk::export!(app)`, where `app` is a `fn() -> Router`, makes the
/// component's `wasi:http/incoming-handler` answer every request with that router. Use it once,
/// at the crate root of the app. Off wasm32 (an app's unit tests on the host) it exports nothing.
#[macro_export]
macro_rules! export {
    ($app:path) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        struct __VibeApp;

        #[cfg(target_arch = "wasm32")]
        impl $crate::bindings::exports::wasi::http::incoming_handler::Guest for __VibeApp {
            fn handle(
                request: $crate::bindings::wasi::http::types::IncomingRequest,
                out: $crate::bindings::wasi::http::types::ResponseOutparam,
            ) {
                $crate::serve::handle(request, out, $app);
            }
        }

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_app_world!(__VibeApp with_types_in $crate::bindings);
    };
}
