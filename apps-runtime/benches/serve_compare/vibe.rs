//! The real thing: the `vibe` binary, `vibe serve` as a child process on a throwaway PostgreSQL
//! database (created on the server of `DATABASE_URL`, dropped at the end), with the hello component
//! deployed by `vibe app deploy` and served at `/apps/hello/` through the host's routing, wrapper,
//! analytics and every limit.
//!
//! Also measures the first request after a deploy as a user sees it: from starting `vibe app
//! deploy` on a component the server has never seen to the first 200 from the running server
//! (the CLI compiles and records the version; the server hears the `app:status` event and loads
//! the artifact from the shared cache).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::load::probe;
use crate::servers::{ChildGuard, free_addr};

/// The owner account the bench creates.
const OWNER: &str = "bench@vibe.test";

/// A database created for the run, dropped (with any connection left) when this goes.
struct Database {
    admin_url: String,
    name: String,
}

impl Database {
    fn create(admin_url: &str) -> Result<Database, String> {
        let name = format!("vibe_bench_{}", uuid::Uuid::new_v4().simple());
        psql(admin_url, &format!("CREATE DATABASE {name}"))?;
        Ok(Database { admin_url: admin_url.to_owned(), name })
    }

    /// The URL of this database on the same server.
    fn url(&self) -> String {
        let base = self.admin_url.split('?').next().unwrap_or(&self.admin_url);
        match base.rsplit_once('/') {
            Some((server, _)) if server.contains("://") && !server.ends_with('/') => {
                format!("{server}/{}", self.name)
            }
            _ => format!("{}/{}", base.trim_end_matches('/'), self.name),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Err(error) =
            psql(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
        {
            eprintln!("could not drop the bench database {}: {error}", self.name);
        }
    }
}

fn psql(url: &str, sql: &str) -> Result<(), String> {
    let output = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .map_err(|error| format!("cannot run psql: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("psql `{sql}`: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}

/// `vibe serve` with the hello app deployed. Fields drop in order: the server, then its database.
pub struct Vibe {
    pub server: ChildGuard,
    pub addr: SocketAddr,
    /// From starting `vibe app deploy` to the first 200 at `/apps/<slug>/`, for each deploy.
    pub deploy_to_first_request: Vec<Duration>,
    /// How long the `vibe app deploy` command itself took, for each deploy.
    pub deploy_command: Vec<Duration>,
    _database: Database,
    _data_dir: tempfile::TempDir,
}

/// How to run the `vibe` binary against the throwaway database.
struct Cli {
    binary: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Cli {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.env_remove("RUST_LOG").stdin(Stdio::null());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Result<(), String> {
        let output =
            self.command().args(args).output().map_err(|error| format!("cannot run vibe: {error}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("`vibe {}`: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
        }
    }
}

/// Starts `vibe serve` and deploys `component` as `hello`, then `extra_deploys` variants of it as
/// other apps (each timed from deploy to first answer). `variant` makes a distinct component.
pub async fn start(
    binary: &Path,
    admin_url: &str,
    component: &Path,
    extra_deploys: usize,
    variant: impl Fn(&str) -> Vec<u8>,
) -> Result<Vibe, String> {
    let database = Database::create(admin_url)?;
    let data_dir = tempfile::tempdir().map_err(|error| error.to_string())?;
    let addr = free_addr();
    let cli = Cli {
        binary: binary.to_owned(),
        env: vec![
            ("VIBE_DATABASE_URL", database.url()),
            ("VIBE_DATA_DIR", data_dir.path().display().to_string()),
            ("VIBE_LISTEN", addr.to_string()),
        ],
    };
    cli.run(&["migrate"])?;
    cli.run(&["user", "create", "--email", OWNER, "--password", "bench-password-not-secret"])?;
    let log = std::fs::File::create(data_dir.path().join("serve.log")).map_err(|error| error.to_string())?;
    let child = cli
        .command()
        .arg("serve")
        .stdout(log.try_clone().map_err(|error| error.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|error| format!("cannot start vibe serve: {error}"))?;
    let server = ChildGuard(child);
    wait_for(addr, "/api/openapi.json", Duration::from_secs(120))
        .await
        .map_err(|error| format!("{error}; see {}", data_dir.path().join("serve.log").display()))?;

    let mut deploy_to_first_request = Vec::new();
    let mut deploy_command = Vec::new();
    for index in 0..=extra_deploys {
        let (slug, file) = if index == 0 {
            ("hello".to_owned(), component.to_owned())
        } else {
            let file = data_dir.path().join(format!("hello-{index}.wasm"));
            std::fs::write(&file, variant(&format!("deploy-{index}-{}", uuid::Uuid::new_v4())))
                .map_err(|error| error.to_string())?;
            (format!("hello-{index}"), file)
        };
        let file = file.display().to_string();
        let started = Instant::now();
        cli.run(&["app", "deploy", &file, "--name", &slug, "--owner", OWNER])?;
        deploy_command.push(started.elapsed());
        wait_for(addr, &format!("/apps/{slug}/"), Duration::from_secs(60)).await?;
        deploy_to_first_request.push(started.elapsed());
    }
    Ok(Vibe {
        server,
        addr,
        deploy_to_first_request,
        deploy_command,
        _database: database,
        _data_dir: data_dir,
    })
}

/// Polls `path` on `addr` until it answers 200 (every millisecond, so the time it first does is
/// known to about that).
pub async fn wait_for(addr: SocketAddr, path: &str, limit: Duration) -> Result<(), String> {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < limit {
        last = probe(addr, path).await;
        if last == Some(200) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err(format!("{addr}{path} did not answer 200 within {limit:?} (last: {last:?})"))
}
