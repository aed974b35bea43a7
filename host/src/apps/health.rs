//! Health checks of live apps built by the build service: every generated app answers
//! `GET /_health` after a `SELECT 1` on its database. The checker asks each one in turn, records the
//! result on the app's row, and when an app goes from healthy (or unknown) to failing, tells its
//! owner once with a `notification` and everyone watching the app with an `app:status` event; when
//! it recovers, it says so too.
//!
//! Only apps whose live version came from a build are checked: an app uploaded by hand promised no
//! `/_health` route. In a cluster every process checks the apps it serves; the row's update is
//! conditional on the state changing, so one transition notifies once however many processes saw it.

use std::time::Duration;

use http::Request;
use serde_json::json;
use uuid::Uuid;

use super::registry::LiveState;
use crate::events::{Event, EventKind, bus};
use crate::state::AppState;

/// The path every generated app answers its health on.
pub const HEALTH_PATH: &str = "/_health";

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Failing(String),
}

/// Checks every built, serving app once; returns how many were checked.
pub async fn check_all(state: &AppState) -> usize {
    let apps: Vec<(Uuid, Uuid, String, String)> = match sqlx::query_as(
        "SELECT a.id, a.user_id, a.name, a.health FROM apps a JOIN app_versions v ON v.id = a.live_version_id \
         WHERE a.status = 'deployed' AND v.build_id IS NOT NULL",
    )
    .fetch_all(&state.db)
    .await
    {
        Ok(apps) => apps,
        Err(error) => {
            tracing::warn!(error = %error, "health checks: listing apps failed");
            return 0;
        }
    };
    let mut checked = 0;
    for (app_id, owner, name, before) in apps {
        let Some(health) = check(state, app_id).await else { continue };
        checked += 1;
        record(state, app_id, owner, &name, &before, &health).await;
    }
    checked
}

/// Asks app `app_id` for its health; `None` when this process does not serve it (paused, gone).
pub async fn check(state: &AppState, app_id: Uuid) -> Option<Health> {
    let live = state.apps.registry().by_id(app_id)?;
    let LiveState::Serving(app) = &live.state else { return None };
    // As a request from outside would come: an app (and the runtime) wants to know the host asked.
    let request = Request::get(HEALTH_PATH)
        .header("host", "health.check.invalid")
        .body(axum::body::Body::empty())
        .ok()?;
    let response = app.handle(request).await;
    let status = response.status();
    Some(if status.is_success() {
        Health::Healthy
    } else {
        Health::Failing(format!("GET {HEALTH_PATH} answered {status}"))
    })
}

async fn record(state: &AppState, app_id: Uuid, owner: Uuid, name: &str, before: &str, health: &Health) {
    let now = match health {
        Health::Healthy => "healthy",
        Health::Failing(_) => "failing",
    };
    let changed = sqlx::query(
        "UPDATE apps SET health = $2, health_checked_at = now() WHERE id = $1 AND health IS DISTINCT FROM $2",
    )
    .bind(app_id)
    .bind(now)
    .execute(&state.db)
    .await
    .map(|done| done.rows_affected() == 1)
    .unwrap_or(false);
    if !changed {
        let _ = sqlx::query("UPDATE apps SET health_checked_at = now() WHERE id = $1")
            .bind(app_id)
            .execute(&state.db)
            .await;
        return;
    }
    let message = match health {
        Health::Failing(reason) => format!("{name} is failing its health check: {reason}"),
        Health::Healthy if before == "failing" => format!("{name} is healthy again"),
        // unknown -> healthy: the first check of a new app is no news.
        Health::Healthy => return,
    };
    let status = Event {
        kind: EventKind::AppStatus,
        idea_id: None,
        app_id: Some(app_id),
        user_id: None,
        data: json!({ "status": "deployed", "health": now, "message": message }),
    };
    let notification = Event::notification(
        owner,
        json!({ "kind": "app_health", "app_id": app_id, "health": now, "message": message }),
    );
    for event in [status, notification] {
        if let Err(error) = bus::publish_with(&state.db, &event).await {
            tracing::warn!(error = %error, "health checks: publishing failed");
        }
    }
}

/// Checks every `every` until the process stops.
pub fn start(state: AppState, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            check_all(&state).await;
        }
    });
}
