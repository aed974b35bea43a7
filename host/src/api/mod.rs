//! The HTTP surface: REST under `/api`, the WebSocket at `/api/ws`, operations endpoints, and the
//! OpenAPI document generated from the handlers' annotations at `/api/openapi.json`.

pub mod access;
pub mod accounts;
pub mod agents;
pub mod app_observe;
pub mod app_versions;
pub mod apps;
pub mod auth;
pub mod builds;
pub mod collaborators;
pub mod credit_purchases;
pub mod credits;
pub mod ideas;
pub mod me;
pub mod plugins;
pub mod sessions;
pub mod specs;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router, middleware};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;
use crate::{events, ops, telemetry};

/// Largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "Vibe API", description = "From an idea to a live, hosted app."),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::SESSION_COOKIE))),
        );
    }
}

/// Every documented API route, with the OpenAPI document they make up.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::routes())
        .merge(me::routes())
        .merge(ideas::routes())
        .merge(collaborators::routes())
        .merge(sessions::routes())
        .merge(specs::routes())
        .merge(apps::routes())
        .merge(app_versions::routes())
        .merge(app_observe::routes())
        .merge(builds::routes())
        .merge(credits::routes())
        .merge(accounts::routes())
        .merge(credit_purchases::routes())
        .merge(plugins::routes())
        .merge(agents::routes())
        .merge(events::ws::routes())
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().into_openapi()
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let (api, doc) = api_routes().split_for_parts();
    let doc = std::sync::Arc::new(doc);
    Router::new()
        .merge(api)
        .route("/api/openapi.json", get(move || async move { Json(doc.as_ref().clone()) }))
        .merge(ops::routes())
        .merge(crate::apps::routing::routes())
        // The web UI takes what no route did; `/api` and `/apps` paths stay JSON 404s.
        .fallback(crate::web::fallback)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Requests for `{slug}.{apps domain}` go to the app before any platform route is considered.
        .layer(middleware::from_fn_with_state(state.clone(), crate::apps::routing::by_host))
        .layer(middleware::from_fn(telemetry::observe))
        .with_state(state)
}
