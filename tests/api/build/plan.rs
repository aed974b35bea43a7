//! The derived test plan of each example passes against its generated app: the plan and the
//! code agree on URLs, statuses and shapes. The steps are sent by a minimal executor here (the
//! build pipeline's runner is the real one); a failure names the case and the step.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;
use sqlx::PgPool;
use vibe_host::build::plan::{self, Body, Step};

use super::{LiveApp, generated};

/// `text` with each `{name}` replaced by its captured value.
fn substitute(text: &str, captured: &BTreeMap<String, String>) -> String {
    captured.iter().fold(text.to_owned(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
}

fn substitute_json(value: &Value, captured: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(text) => Value::String(substitute(text, captured)),
        Value::Object(members) => {
            Value::Object(members.iter().map(|(k, v)| (k.clone(), substitute_json(v, captured))).collect())
        }
        other => other.clone(),
    }
}

async fn run_step(
    live: &LiveApp,
    step: &Step,
    captured: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    let path = substitute(&step.path, captured);
    let method = Method::from_bytes(step.method.as_bytes()).unwrap();
    let (status, body) = match &step.body {
        Some(Body::Form(pairs)) => {
            let pairs: Vec<(String, String)> =
                pairs.iter().map(|(name, value)| (name.clone(), substitute(value, captured))).collect();
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            live.post_form(&path, step.visitor, &pairs).await
        }
        Some(Body::Json(json)) => {
            live.send(method, &path, step.visitor, Some(substitute_json(json, captured))).await
        }
        None => live.send(method, &path, step.visitor, None).await,
    };
    if status.as_u16() != step.expect_status {
        return Err(format!(
            "{} {path} as {:?}: {status}, expected {}: {body}",
            step.method, step.visitor, step.expect_status
        ));
    }
    for expected in &step.expect_contains {
        let expected = substitute(expected, captured);
        if !body.contains(&expected) {
            return Err(format!("{} {path}: no {expected:?} in {body}", step.method));
        }
    }
    for (name, pointer) in &step.capture {
        let json: Value = serde_json::from_str(&body).map_err(|e| format!("{path}: {e}"))?;
        let value = json.pointer(pointer).ok_or_else(|| format!("{path}: no {pointer} in {body}"))?;
        captured.insert(name.clone(), value.as_str().map_or_else(|| value.to_string(), str::to_owned));
    }
    Ok(())
}

async fn plan_passes(db: PgPool, name: &str) {
    let (spec, app) = generated(name);
    let live = LiveApp::deploy(db, &spec, &app).await;
    let plan = plan::derive(&spec);
    let mut captured = BTreeMap::new();
    let mut failures = Vec::new();
    let mut steps = 0;
    for case in &plan.cases {
        for step in &case.steps {
            steps += 1;
            if let Err(why) = run_step(&live, step, &mut captured).await {
                failures.push(format!("{}: {why}", case.name));
                break;
            }
        }
    }
    eprintln!("{name}: {} cases, {steps} steps, {} failed", plan.cases.len(), failures.len());
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_book_club_passes_its_plan(db: PgPool) {
    plan_passes(db, "book-club").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_room_booking_app_passes_its_plan(db: PgPool) {
    plan_passes(db, "room-booking").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_crm_passes_its_plan(db: PgPool) {
    plan_passes(db, "crm").await;
}
