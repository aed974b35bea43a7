//! Agent types over the API, for operators: each type's versions side by side with their track
//! records, the routing table (set, roll back, history) and the type's limits. A routing change
//! reaches every `vibe` process on the database within moments (`LISTEN/NOTIFY`), without a restart.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use sqlx::types::Json as SqlJson;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::agents::registry::catalog::type_limits_of;
use crate::agents::registry::routing::change::{self, RoutingView};
use crate::agents::registry::track::{self, CallRow, TrackRecord};
use crate::agents::runtime::AgentLimits;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Path, Query};
use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agent_types))
        .routes(routes!(get_agent_type))
        .routes(routes!(set_routing, routing_history))
        .routes(routes!(roll_back))
        .routes(routes!(set_limits))
}

/// An agent type in the list.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AgentTypeSummary {
    pub agent_type: String,
    /// `active`, `testing` or `deprecated`.
    pub status: String,
    /// The routing revision in force, if routed.
    pub routing_revision: Option<i32>,
    /// How many plugin versions serve it.
    pub versions: i64,
}

/// Lists the agent types (operators).
#[utoipa::path(
    get, path = "/api/agents", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The agent types, by name", body = Vec<AgentTypeSummary>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Operators only", body = ErrorBody),
    )
)]
async fn list_agent_types(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<Vec<AgentTypeSummary>>> {
    user.require_operator()?;
    Ok(Json(
        sqlx::query_as(
            "SELECT r.agent_type, r.status, r.routing_revision, count(v.id) AS versions \
             FROM agent_registry r LEFT JOIN agent_versions v ON v.agent_type = r.agent_type \
             GROUP BY r.agent_type, r.status, r.routing_revision ORDER BY r.agent_type",
        )
        .fetch_all(&state.db)
        .await?,
    ))
}

/// One version of an agent type with its standing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionStanding {
    /// `<plugin>@<semver>`.
    pub version: String,
    pub digest: Option<String>,
    /// `active` (routed), `testing` (not routed) or `deprecated`.
    pub status: String,
    /// `approved` or `pending`.
    pub approval: String,
    /// Its weight in the routing in force (0: not routed).
    pub weight: u32,
    /// Its record so far (absent before its first call).
    pub track: Option<TrackRecord>,
}

/// An agent type, its routing and its versions side by side.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentTypeView {
    pub agent_type: String,
    pub status: String,
    pub description: String,
    /// The limits its turns get: defaults with the operators' overrides.
    pub limits: AgentLimits,
    pub routing: RoutingView,
    pub versions: Vec<VersionStanding>,
    /// The latest calls, newest first.
    pub recent_calls: Vec<CallRow>,
}

/// `GET /api/agents/{type}` options.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AgentTypeQuery {
    /// How many recent calls to list (default 20, at most 500).
    pub calls: Option<i64>,
}

/// An agent type with each version's track record side by side (operators).
#[utoipa::path(
    get, path = "/api/agents/{type}", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    params(("type" = String, Path, description = "The agent type"), AgentTypeQuery),
    responses(
        (status = 200, description = "The agent type", body = AgentTypeView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Operators only", body = ErrorBody),
        (status = 404, description = "No such agent type", body = ErrorBody),
    )
)]
async fn get_agent_type(
    State(state): State<AppState>,
    user: AuthUser,
    Path(agent_type): Path<String>,
    Query(query): Query<AgentTypeQuery>,
) -> ApiResult<Json<AgentTypeView>> {
    user.require_operator()?;
    let calls = query.calls.unwrap_or(20);
    if !(0..=500).contains(&calls) {
        return Err(ApiError::validation("calls", "0 to 500"));
    }
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT status, description FROM agent_registry WHERE agent_type = $1")
            .bind(&agent_type)
            .fetch_optional(&state.db)
            .await?;
    let (status, description) = row.ok_or(ApiError::NotFound)?;
    let routing = change::current(&state.db, &agent_type).await?;
    let mut records: BTreeMap<String, TrackRecord> =
        track::records(&state.db, &agent_type).await?.into_iter().map(|r| (r.version.clone(), r)).collect();
    let versions: Vec<(String, Option<String>, String, Option<String>)> = sqlx::query_as(
        "SELECT v.version, v.artifact_digest, v.status, p.approval FROM agent_versions v \
         LEFT JOIN plugin_versions p ON p.id = v.plugin_version_id WHERE v.agent_type = $1 ORDER BY v.created_at",
    )
    .bind(&agent_type)
    .fetch_all(&state.db)
    .await?;
    let versions = versions
        .into_iter()
        .map(|(version, digest, status, approval)| VersionStanding {
            weight: routing.weights.get(&version).copied().unwrap_or(0),
            track: records.remove(&version),
            version,
            digest,
            status,
            approval: approval.unwrap_or_else(|| "approved".to_owned()),
        })
        .collect();
    Ok(Json(AgentTypeView {
        limits: type_limits_of(&state.db, &agent_type).await?,
        recent_calls: track::recent_calls(&state.db, &agent_type, calls).await?,
        agent_type,
        status,
        description,
        routing,
        versions,
    }))
}

/// A new routing table.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRequest {
    /// Version → weight, e.g. `{"echo@1.0.0": 90, "echo@1.1.0": 10}`; a bare semver names the one
    /// version with it. Each version with a positive weight must be approved and not deprecated.
    pub weights: BTreeMap<String, u32>,
    /// Refuse the change (409) unless this is the revision in force (safe read-modify-write).
    pub expected_revision: Option<i32>,
}

/// Sets an agent type's routing (operators). New sessions are routed by it at once on every
/// process; sessions already started keep their versions.
#[utoipa::path(
    put, path = "/api/agents/{type}/routing", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    params(("type" = String, Path, description = "The agent type")),
    request_body = RoutingRequest,
    responses(
        (status = 200, description = "The routing now in force", body = RoutingView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Operators only", body = ErrorBody),
        (status = 404, description = "No such agent type", body = ErrorBody),
        (status = 409, description = "The routing changed since `expected_revision`", body = ErrorBody),
        (status = 422, description = "An unknown, unapproved or deprecated version, or invalid weights", body = ErrorBody),
    )
)]
async fn set_routing(
    State(state): State<AppState>,
    user: AuthUser,
    Path(agent_type): Path<String>,
    Json(body): Json<RoutingRequest>,
) -> ApiResult<Json<RoutingView>> {
    user.require_operator()?;
    let view =
        change::set(&state.db, &agent_type, &body.weights, body.expected_revision, Some(user.id)).await?;
    state.agents.reload_logged(&agent_type).await;
    Ok(Json(view))
}

/// Restores the routing the one in force replaced (operators): one call undoes one change.
#[utoipa::path(
    post, path = "/api/agents/{type}/routing/rollback", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    params(("type" = String, Path, description = "The agent type")),
    responses(
        (status = 200, description = "The routing now in force", body = RoutingView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Operators only", body = ErrorBody),
        (status = 404, description = "No such agent type", body = ErrorBody),
        (status = 409, description = "Nothing to roll back to, or a version of it is no longer routable", body = ErrorBody),
    )
)]
async fn roll_back(
    State(state): State<AppState>,
    user: AuthUser,
    Path(agent_type): Path<String>,
) -> ApiResult<Json<RoutingView>> {
    user.require_operator()?;
    let view = change::rollback(&state.db, &agent_type, Some(user.id)).await?;
    state.agents.reload_logged(&agent_type).await;
    Ok(Json(view))
}

/// An agent type's routing history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoutingHistory {
    pub current: RoutingView,
    /// The latest 100 revisions, newest first.
    pub revisions: Vec<RoutingView>,
}

/// The routing in force and its history (operators).
#[utoipa::path(
    get, path = "/api/agents/{type}/routing", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    params(("type" = String, Path, description = "The agent type")),
    responses(
        (status = 200, description = "The routing and its history", body = RoutingHistory),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Operators only", body = ErrorBody),
        (status = 404, description = "No such agent type", body = ErrorBody),
    )
)]
async fn routing_history(
    State(state): State<AppState>,
    user: AuthUser,
    Path(agent_type): Path<String>,
) -> ApiResult<Json<RoutingHistory>> {
    user.require_operator()?;
    let current = change::current(&state.db, &agent_type).await?;
    let revisions = change::history(&state.db, &agent_type, 100).await?;
    Ok(Json(RoutingHistory { current, revisions }))
}

/// Overrides an agent type's limits (operators): a JSON object with any of `fuel`,
/// `memory_bytes`, `deadline_ms`, `max_output_bytes`, `max_log_bytes`; `{}` restores the defaults.
#[utoipa::path(
    put, path = "/api/agents/{type}/limits", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    params(("type" = String, Path, description = "The agent type")),
    request_body(content = Object, description = "The fields to override"),
    responses(
        (status = 200, description = "The limits now in force", body = AgentLimits),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Operators only", body = ErrorBody),
        (status = 404, description = "No such agent type", body = ErrorBody),
        (status = 422, description = "An unknown field, a zero or a value above the server's ceiling", body = ErrorBody),
    )
)]
async fn set_limits(
    State(state): State<AppState>,
    user: AuthUser,
    Path(agent_type): Path<String>,
    Json(overrides): Json<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Json<AgentLimits>> {
    user.require_operator()?;
    let overrides = serde_json::Value::Object(overrides);
    let limits = AgentLimits::for_agent_type(&agent_type)
        .with_overrides(&overrides)
        .map_err(|message| ApiError::validation("limits", message))?;
    limits.check(&state.agents.ceilings()).map_err(|message| ApiError::validation("limits", message))?;
    let mut tx = state.db.begin().await?;
    let updated = sqlx::query(
        "UPDATE agent_registry SET configuration = jsonb_set(configuration, '{limits}', $2), updated_at = now() \
         WHERE agent_type = $1",
    )
    .bind(&agent_type)
    .bind(SqlJson(&overrides))
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(ApiError::NotFound);
    }
    change::notify(&mut tx, &agent_type).await?;
    tx.commit().await?;
    state.agents.reload_logged(&agent_type).await;
    Ok(Json(limits))
}
