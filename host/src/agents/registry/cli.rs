//! `vibe plugin …` and `vibe agent …`.
//!
//! Publishers work over HTTP against a running server (`--server`, `VIBE_SERVER`) with their own
//! account's token (`--token`, `VIBE_TOKEN`, the `token` `POST /api/auth/login` answers): they need
//! no access to the database, and the server verifies and compiles what they send exactly as it
//! would any other upload. Keys are made locally (`keygen`) and never leave the machine; only the
//! signature and the public key do.
//!
//! Operators' commands (`plugin approve`, `agent route`, `agent rollback`, `agent show`) work on the
//! database directly, like the other operator commands; running servers pick the change up through
//! `LISTEN/NOTIFY`, without a restart.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::catalog;
use super::package::Manifest;
use super::routing::change::{self, RoutingView};
use super::signing;
use super::track;
use crate::config::{AgentCommand, BaseConfig, PluginCommand, ServerArgs};
use crate::db::{self, Database};

/// Runs one `vibe plugin` command.
pub async fn run_plugin(base: &BaseConfig, command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::Keygen { out } => {
            let key = signing::generate();
            let public_path = signing::write_key_files(&key, &out)?;
            let public = key.verifying_key().to_bytes();
            println!(
                "wrote the secret key to {} (mode 0600) and the public key to {}",
                out.display(),
                public_path.display()
            );
            println!("public key {} (fingerprint {})", BASE64.encode(public), signing::fingerprint(&public));
            println!("register it to your account: vibe plugin register-key --key {}", out.display());
        }
        PluginCommand::RegisterKey { key, label, server } => {
            let public = signing::read_signing_key(&key)?.verifying_key().to_bytes();
            let body = json!({"public_key": BASE64.encode(public), "label": label});
            let answer = send(&server, reqwest::Method::POST, "/api/users/me/keys", &body).await?;
            println!(
                "registered key {} ({})",
                signing::fingerprint(&public),
                answer["id"].as_str().unwrap_or("?")
            );
        }
        PluginCommand::Sign { component, manifest, key, out } => {
            let body = signed_package(&component, &manifest, &key)?;
            let mut file =
                std::fs::OpenOptions::new().write(true).create_new(true).open(&out).with_context(|| {
                    format!("creating {} (an existing file is never overwritten)", out.display())
                })?;
            serde_json::to_writer(&mut file, &body)?;
            std::io::Write::write_all(&mut file, b"\n")?;
            println!(
                "wrote the signed package {}@{} to {}",
                body["manifest"]["name"].as_str().unwrap_or("?"),
                body["manifest"]["version"].as_str().unwrap_or("?"),
                out.display()
            );
            println!(
                "publish it from the operator console, or: curl -H 'content-type: application/json' --data @{} …/api/plugins",
                out.display()
            );
        }
        PluginCommand::Publish { component, manifest, key, server } => {
            let body = signed_package(&component, &manifest, &key)?;
            let answer = send(&server, reqwest::Method::POST, "/api/plugins", &body).await?;
            let reasons: Vec<&str> = answer["approval_reasons"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            println!(
                "published {} (sha256:{}), signed by key {}",
                answer["version_ref"].as_str().unwrap_or("?"),
                answer["digest"].as_str().unwrap_or("?"),
                answer["key_fingerprint"].as_str().unwrap_or("?"),
            );
            if answer["approval"] == "approved" {
                println!("routable now: an operator routes traffic to it with `vibe agent route`");
            } else {
                println!("waiting for an operator's approval of: {}", reasons.join("; "));
            }
        }
        PluginCommand::Approve { name, version } => {
            let database = Database::open(base).await?;
            db::migrate(&database.pool).await?;
            let approved = catalog::approve(&database.pool, None, &name, &version).await;
            database.close().await?;
            approved.map_err(|error| anyhow::anyhow!("{error}")).context("approval refused")?;
            println!("approved {name}@{version}: it may now be routed");
        }
    }
    Ok(())
}

/// Reads, checks and signs a package: the JSON body of `POST /api/plugins`.
pub fn signed_package(component: &Path, manifest: &Path, key: &Path) -> anyhow::Result<Value> {
    let bytes =
        std::fs::read(component).with_context(|| format!("reading the plugin {}", component.display()))?;
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading the manifest {}", manifest.display()))?;
    let parsed: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid manifest", manifest.display()))?;
    parsed.validate().map_err(|error| anyhow::anyhow!("{error}"))?;
    let key = signing::read_signing_key(key)?;
    let digest = super::store::digest(&bytes);
    let signature = signing::sign(&key, &digest, &parsed);
    Ok(json!({
        "manifest": parsed,
        "component": BASE64.encode(&bytes),
        "digest": digest,
        "signature": BASE64.encode(signature),
        "public_key": BASE64.encode(key.verifying_key().to_bytes()),
    }))
}

/// Sends `body` to `path` on the server; the answer's JSON, or the server's error message.
async fn send(
    server: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let url =
        server.server.join(path).with_context(|| format!("{} is not a server address", server.server))?;
    let response = reqwest::Client::new()
        .request(method, url.clone())
        .bearer_auth(&server.token)
        .json(body)
        .send()
        .await
        .with_context(|| format!("reaching {url}"))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = answer["error"]["message"].as_str().unwrap_or("no explanation given");
        let field = answer["error"]["field"].as_str().map(|f| format!(" ({f})")).unwrap_or_default();
        anyhow::bail!("the server answered {status}{field}: {message}");
    }
    Ok(answer)
}

/// Runs one `vibe agent` command on the database.
pub async fn run_agent(base: &BaseConfig, command: AgentCommand) -> anyhow::Result<()> {
    let database = Database::open(base).await?;
    db::migrate(&database.pool).await?;
    let result = agent_command(&database.pool, command).await;
    database.close().await?;
    result
}

async fn agent_command(db: &PgPool, command: AgentCommand) -> anyhow::Result<()> {
    let refused = |error: crate::error::ApiError| anyhow::anyhow!("{error}");
    match command {
        AgentCommand::Route { agent_type, weights } => {
            let weights = parse_weights(&weights)?;
            let view = change::set(db, &agent_type, &weights, None, None).await.map_err(refused)?;
            print_routing(&view);
        }
        AgentCommand::Rollback { agent_type } => {
            let view = change::rollback(db, &agent_type, None).await.map_err(refused)?;
            print_routing(&view);
        }
        AgentCommand::Show { agent_type } => {
            print_routing(&change::current(db, &agent_type).await.map_err(refused)?);
            for record in track::records(db, &agent_type).await.map_err(refused)? {
                println!(
                    "{}\tcalls {}\terrors {} ({:.1}%)\tp50 {} µs\tp99 {} µs\tfuel {}\tcredits {}",
                    record.version,
                    record.calls,
                    record.errors,
                    record.error_rate * 100.0,
                    record.latency_p50_us.map_or(0, |v| v as u64),
                    record.latency_p99_us.map_or(0, |v| v as u64),
                    record.fuel_mean.map_or(0, |v| v as u64),
                    record.credits_total,
                );
            }
        }
    }
    Ok(())
}

/// `version=weight` arguments.
fn parse_weights(arguments: &[String]) -> anyhow::Result<BTreeMap<String, u32>> {
    let mut weights = BTreeMap::new();
    for argument in arguments {
        let (version, weight) =
            argument.rsplit_once('=').with_context(|| format!("{argument:?}: write <version>=<weight>"))?;
        let weight: u32 =
            weight.parse().with_context(|| format!("{argument:?}: the weight is a whole number"))?;
        if weights.insert(version.to_owned(), weight).is_some() {
            anyhow::bail!("{version} is named twice");
        }
    }
    Ok(weights)
}

fn print_routing(view: &RoutingView) {
    match view.revision {
        Some(revision) => println!("{} routing, revision {revision}:", view.agent_type),
        None => println!("{} is not routed", view.agent_type),
    }
    let total: u64 = view.weights.values().map(|w| u64::from(*w)).sum();
    for (version, weight) in &view.weights {
        let share = if total == 0 { 0.0 } else { f64::from(*weight) * 100.0 / total as f64 };
        println!("  {version}\t{weight}\t{share:.1}%");
    }
}
