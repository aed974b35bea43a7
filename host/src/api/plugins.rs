//! Agent plugins over the API: publishers register signing keys and publish signed packages;
//! anyone signed in browses the catalog; operators approve capabilities and deprecate versions.
//! Verification is `crate::agents::registry::verify`'s, the catalog `…::catalog`'s.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::agents::registry::catalog::{self, PluginSummary, PluginVersion, Viewer};
use crate::agents::registry::package::Manifest;
use crate::agents::registry::signing::{self, PublisherKey};
use crate::agents::registry::verify::Submission;
use crate::auth::{AuthUser, Role};
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use crate::state::AppState;

/// The largest plugin accepted, in bytes.
pub const MAX_PLUGIN_BYTES: usize = 32 * 1024 * 1024;
/// The largest publish request: the plugin in base64 (4/3 of its size) and its manifest.
const MAX_PUBLISH_BODY_BYTES: usize = MAX_PLUGIN_BYTES / 3 * 4 + 1024 * 1024;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    let publishing = OpenApiRouter::new()
        .routes(routes!(publish, list_plugins))
        .layer(DefaultBodyLimit::max(MAX_PUBLISH_BODY_BYTES));
    OpenApiRouter::new()
        .merge(publishing)
        .routes(routes!(list_versions))
        .routes(routes!(get_version))
        .routes(routes!(approve))
        .routes(routes!(deprecate))
        .routes(routes!(register_key, list_keys))
        .routes(routes!(revoke_key))
}

fn viewer(user: &AuthUser) -> Viewer {
    Viewer { id: user.id, operator: user.role == Role::Operator }
}

/// A signed plugin package.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// What the package is; signed together with the digest.
    pub manifest: Manifest,
    /// The component (or Extism module), base64.
    pub component: String,
    /// The sha256 of the component the publisher signed, 64 lowercase hex digits.
    pub digest: String,
    /// The publisher's ed25519 signature of the digest and the manifest's canonical form, base64.
    /// Absent: the package is refused as unsigned.
    pub signature: Option<String>,
    /// The signing key, base64; absent, every key registered to the publisher is tried.
    pub public_key: Option<String>,
}

/// Publishes a signed plugin package.
///
/// Refused, with the reason, when unsigned, wrongly signed, tampered (the bytes are not those
/// signed), from an unknown publisher or key, already published with other bytes, or not a
/// `vibe:agent` plugin this host serves; all but the last are checked before compiling anything.
/// A version asking for capabilities beyond the defaults, or for larger limits, waits for an
/// operator's approval and is not routable until then.
#[utoipa::path(
    post, path = "/api/plugins", tag = "plugins",
    security(("bearer" = []), ("cookie" = [])),
    request_body = PublishRequest,
    responses(
        (status = 201, description = "Published", body = PluginVersion),
        (status = 200, description = "Exactly this package was already published", body = PluginVersion),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Publishing in another account's name, or under another publisher's plugin name", body = ErrorBody),
        (status = 409, description = "This version was published with other bytes", body = ErrorBody),
        (status = 413, description = "The plugin is larger than 32 MiB", body = ErrorBody),
        (status = 422, description = "Refused: the field says what (signature, publisher, digest, component, manifest.*) and the message why", body = ErrorBody),
    )
)]
async fn publish(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<PublishRequest>,
) -> ApiResult<(StatusCode, Json<PluginVersion>)> {
    let component =
        BASE64.decode(body.component.trim()).map_err(|_| ApiError::validation("component", "not base64"))?;
    if component.len() > MAX_PLUGIN_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let signature = match body.signature.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => Some(BASE64.decode(text).map_err(|_| ApiError::validation("signature", "not base64"))?),
        None => None,
    };
    let public_key = body.public_key.as_deref().map(signing::parse_public_key).transpose()?;
    let submission =
        Submission { manifest: body.manifest, component, digest: body.digest, public_key, signature };
    let published = state.agents.publish(viewer(&user), submission).await?;
    let status = if published.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(published.version)))
}

/// Lists the plugins the caller may see (operators: all; others: approved ones and their own).
#[utoipa::path(
    get, path = "/api/plugins", tag = "plugins",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The plugins, by name", body = Vec<PluginSummary>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
async fn list_plugins(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<PluginSummary>>> {
    Ok(Json(catalog::list(&state.db, viewer(&user)).await?))
}

/// Lists a plugin's versions the caller may see, newest first.
#[utoipa::path(
    get, path = "/api/plugins/{name}/versions", tag = "plugins",
    security(("bearer" = []), ("cookie" = [])),
    params(("name" = String, Path, description = "The plugin's name")),
    responses(
        (status = 200, description = "Its versions, highest first", body = Vec<PluginVersion>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such plugin, or none of its versions visible", body = ErrorBody),
    )
)]
async fn list_versions(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<PluginVersion>>> {
    Ok(Json(catalog::versions(&state.db, viewer(&user), &name).await?))
}

/// One version of a plugin.
#[utoipa::path(
    get, path = "/api/plugins/{name}/versions/{version}", tag = "plugins",
    security(("bearer" = []), ("cookie" = [])),
    params(("name" = String, Path, description = "The plugin's name"), ("version" = String, Path, description = "Its semver version")),
    responses(
        (status = 200, description = "The version", body = PluginVersion),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such version, or not visible", body = ErrorBody),
    )
)]
async fn get_version(
    State(state): State<AppState>,
    user: AuthUser,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Json<PluginVersion>> {
    Ok(Json(catalog::version(&state.db, viewer(&user), &name, &version).await?))
}

/// Approves a version's capabilities and limits (operators): it becomes routable.
#[utoipa::path(
    post, path = "/api/plugins/{name}/versions/{version}/approve", tag = "plugins",
    security(("bearer" = []), ("cookie" = [])),
    params(("name" = String, Path, description = "The plugin's name"), ("version" = String, Path, description = "Its semver version")),
    responses(
        (status = 200, description = "The approved version", body = PluginVersion),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Operators only", body = ErrorBody),
        (status = 404, description = "No such version", body = ErrorBody),
    )
)]
async fn approve(
    State(state): State<AppState>,
    user: AuthUser,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Json<PluginVersion>> {
    user.require_operator()?;
    catalog::approve(&state.db, Some(user.id), &name, &version).await?;
    state.agents.refresh_types_of(&name, &version).await;
    Ok(Json(catalog::version(&state.db, viewer(&user), &name, &version).await?))
}

/// Deprecates a version (operators): it serves no further turn. Refused while routed.
#[utoipa::path(
    post, path = "/api/plugins/{name}/versions/{version}/deprecate", tag = "plugins",
    security(("bearer" = []), ("cookie" = [])),
    params(("name" = String, Path, description = "The plugin's name"), ("version" = String, Path, description = "Its semver version")),
    responses(
        (status = 200, description = "The deprecated version", body = PluginVersion),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Operators only", body = ErrorBody),
        (status = 404, description = "No such version", body = ErrorBody),
        (status = 409, description = "A routing table still sends it traffic", body = ErrorBody),
    )
)]
async fn deprecate(
    State(state): State<AppState>,
    user: AuthUser,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Json<PluginVersion>> {
    user.require_operator()?;
    catalog::deprecate(&state.db, &name, &version).await?;
    state.agents.refresh_types_of(&name, &version).await;
    Ok(Json(catalog::version(&state.db, viewer(&user), &name, &version).await?))
}

/// A signing key to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// The ed25519 public key, base64 (the `.pub` file `vibe plugin keygen` writes).
    pub public_key: String,
    /// A name to tell keys apart, at most 200 characters.
    #[serde(default)]
    pub label: String,
}

/// Registers a signing key to the caller's account: packages signed with it publish as the caller.
#[utoipa::path(
    post, path = "/api/users/me/keys", tag = "plugins",
    security(("bearer" = []), ("cookie" = [])),
    request_body = NewKey,
    responses(
        (status = 201, description = "Registered", body = PublisherKey),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "Already registered (to this or another account), or too many keys", body = ErrorBody),
        (status = 422, description = "Not an ed25519 public key", body = ErrorBody),
    )
)]
async fn register_key(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<NewKey>,
) -> ApiResult<(StatusCode, Json<PublisherKey>)> {
    if body.label.chars().count() > 200 {
        return Err(ApiError::validation("label", "at most 200 characters"));
    }
    let public_key = signing::parse_public_key(&body.public_key)?;
    let key = signing::register(&state.db, user.id, &public_key, body.label.trim()).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// The caller's signing keys, newest first.
#[utoipa::path(
    get, path = "/api/users/me/keys", tag = "plugins",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The keys", body = Vec<PublisherKey>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
async fn list_keys(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<PublisherKey>>> {
    Ok(Json(signing::list(&state.db, user.id).await?))
}

/// Revokes one of the caller's keys: nothing signed with it publishes any more.
#[utoipa::path(
    delete, path = "/api/users/me/keys/{id}", tag = "plugins",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such key of the caller's", body = ErrorBody),
    )
)]
async fn revoke_key(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    signing::revoke(&state.db, user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
