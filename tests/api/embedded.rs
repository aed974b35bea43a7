//! The embedded PostgreSQL cluster, through the real `vibe` binary with no database configured: first
//! start, data kept across restarts, clean stop on SIGTERM, recovery after a kill, and clear refusals.
//! Each test has its own data directory under /tmp; guards stop every process a test started.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// How long a first start (initdb included) may take on a busy machine.
const START_WAIT: Duration = Duration::from_secs(90);

/// A data directory under /tmp. Dropping it kills any server still running on it, then removes it.
struct DataDir {
    dir: tempfile::TempDir,
}

impl DataDir {
    fn new() -> Self {
        Self::under(Path::new("/tmp"))
    }

    fn under(parent: &Path) -> Self {
        let dir = tempfile::Builder::new().prefix("vibe-embedded-").tempdir_in(parent).unwrap();
        // tempdir makes it 0700; when the tests run as root the cluster runs as `postgres`, which must
        // be able to enter it.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        DataDir { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn pgdata(&self) -> PathBuf {
        self.path().join("postgres/data")
    }

    /// The pid of the server running on this data directory, from its `postmaster.pid`.
    fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.pgdata().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// A connection to the platform database over the cluster's socket.
    async fn connect(&self) -> sqlx::PgConnection {
        PgConnectOptions::new_without_pgpass()
            .socket(self.path().join("postgres/run"))
            .port(5432)
            .username("vibe")
            .database("vibe")
            .connect()
            .await
            .unwrap()
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        // Immediate shutdown of a server a failed test left behind; its children follow it.
        if let Some(pid) = self.postmaster_pid() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGQUIT);
        }
    }
}

/// Whether process `pid` exists and is not a zombie waiting to be reaped.
fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// Whether process `pid` is gone within a few seconds (the server removes its pid file just before
/// it exits).
async fn process_ends(pid: i32) -> bool {
    let started = Instant::now();
    while process_alive(pid) {
        if started.elapsed() > Duration::from_secs(10) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// `vibe <args>` on `data` with no database configured.
fn vibe(data: &DataDir, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vibe"));
    command
        .args(args)
        .env_remove("VIBE_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .env_remove("VIBE_POSTGRES_BIN")
        .env("VIBE_DATA_DIR", data.path())
        .stdin(Stdio::null());
    command
}

/// A running `vibe serve`; dropping it terminates it (and, failing that, kills it).
struct Server {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl Server {
    async fn start(data: &DataDir) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = data.path().join(format!("vibe-{port}.log"));
        let out = File::create(&log).unwrap();
        let child = vibe(data, &["serve"])
            .env("VIBE_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut server = Server { child: Some(child), port, log };
        server.wait_ready().await;
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("the server is running")
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        let http = reqwest::Client::new();
        loop {
            if let Ok(Some(status)) = self.child().try_wait() {
                panic!("vibe serve exited ({status}) before it was ready:\n{}", self.log());
            }
            if let Ok(response) = http.get(self.url("/readyz")).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return;
            }
            assert!(
                started.elapsed() < START_WAIT,
                "vibe serve not ready after {START_WAIT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends `signal` and waits for the process to exit.
    async fn signal_and_wait(mut self, signal: Signal) -> ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("vibe serve did not exit within 60s of {signal}:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn serve_runs_its_own_cluster_and_keeps_the_data() {
    let data = DataDir::new();
    let server = Server::start(&data).await;

    let key = data.path().join("secrets/token.key");
    let mode = std::fs::metadata(&key).expect("the token key exists").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the token key is private");
    let postmaster = data.postmaster_pid().expect("the cluster runs");
    assert!(process_alive(postmaster));
    let settings = std::fs::read_to_string(data.pgdata().join("vibe.conf")).unwrap();
    assert!(settings.contains("listen_addresses = ''"), "no TCP port: {settings}");

    let http = reqwest::Client::new();
    let signup = http
        .post(server.url("/api/auth/signup"))
        .json(&json!({"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), reqwest::StatusCode::CREATED);
    let token = signup.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();

    // A second process on the same data directory shares the running cluster, and leaves it running
    // when it exits (the server still uses it).
    let created = vibe(&data, &["user", "create", "--email", "grace@example.com", "--name", "Grace"])
        .env("VIBE_USER_PASSWORD", "correct horse battery")
        .output()
        .unwrap();
    assert!(created.status.success(), "vibe user create: {}", String::from_utf8_lossy(&created.stderr));
    assert!(process_alive(postmaster), "the user command left the server's cluster running");
    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), reqwest::StatusCode::OK);

    let log = server.log.clone();
    let status = server.signal_and_wait(Signal::SIGTERM).await;
    assert!(status.success(), "exit on SIGTERM: {status}\n{}", std::fs::read_to_string(&log).unwrap());
    assert!(!data.pgdata().join("postmaster.pid").exists(), "the cluster is stopped");
    assert!(process_ends(postmaster).await, "no server process is left");

    // Same data directory: same accounts, same signing key, so the login from before still works.
    let server = Server::start(&data).await;
    let me = http.get(server.url("/api/users/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), reqwest::StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["email"], "ada@example.com");
    let login = http
        .post(server.url("/api/auth/login"))
        .json(&json!({"email": "grace@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::OK, "the account made by the CLI survived");
    let status = server.signal_and_wait(Signal::SIGINT).await;
    assert!(status.success(), "exit on SIGINT: {status}");
    assert!(!data.pgdata().join("postmaster.pid").exists());
}

#[tokio::test]
async fn a_cluster_left_by_a_killed_vibe_is_reused_then_stopped() {
    let data = DataDir::new();
    let server = Server::start(&data).await;
    let postmaster = data.postmaster_pid().unwrap();
    let status = server.signal_and_wait(Signal::SIGKILL).await;
    assert!(!status.success());
    assert!(process_alive(postmaster), "a killed vibe cannot stop its cluster");

    let server = Server::start(&data).await;
    assert_eq!(data.postmaster_pid(), Some(postmaster), "the running server was reused");
    let status = server.signal_and_wait(Signal::SIGTERM).await;
    assert!(status.success());
    assert!(process_ends(postmaster).await, "the reusing vibe stopped it");
    assert!(!data.pgdata().join("postmaster.pid").exists());
}

#[tokio::test]
async fn a_server_killed_with_its_vibe_recovers_with_the_data() {
    let data = DataDir::new();
    let server = Server::start(&data).await;
    let mut db = data.connect().await;
    sqlx::query("INSERT INTO users (id, email, name) VALUES (gen_random_uuid(), 'ada@example.com', 'Ada')")
        .execute(&mut db)
        .await
        .unwrap();
    drop(db);
    let postmaster = data.postmaster_pid().unwrap();
    server.signal_and_wait(Signal::SIGKILL).await;
    kill(Pid::from_raw(postmaster), Signal::SIGKILL).unwrap();

    // The pid file is stale and the old server's processes may still be exiting: vibe waits them out.
    let server = Server::start(&data).await;
    assert_ne!(data.postmaster_pid(), Some(postmaster), "a new server runs");
    let mut db = data.connect().await;
    let name: String = sqlx::query_scalar("SELECT name FROM users WHERE email = 'ada@example.com'")
        .fetch_one(&mut db)
        .await
        .expect("committed data survives the crash");
    assert_eq!(name, "Ada");
    db.close().await.unwrap();
    assert!(server.signal_and_wait(Signal::SIGTERM).await.success());
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_does_not_block_shutdown() {
    use tokio::io::AsyncWriteExt;
    let data = DataDir::new();
    let server = Server::start(&data).await;
    let postmaster = data.postmaster_pid().unwrap();
    // Half a request, never completed: the graceful shutdown alone would wait for it forever.
    let mut stalled = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
    stalled.write_all(b"GET /readyz HTTP/1.1\r\nHost: vibe\r\n").await.unwrap();
    // Time for the server to take the connection in (the log check below tells if it had not).
    tokio::time::sleep(Duration::from_secs(1)).await;

    let log = server.log.clone();
    let status = server.signal_and_wait(Signal::SIGTERM).await;
    assert!(status.success(), "exit on SIGTERM: {status}");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("connections still open"), "the stalled connection was cut: {log}");
    assert!(process_ends(postmaster).await, "the cluster was stopped too");
    drop(stalled);
}

#[tokio::test]
async fn a_serve_that_fails_after_starting_the_cluster_stops_it() {
    let data = DataDir::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let output =
        vibe(&data, &["serve"]).env("VIBE_LISTEN", taken.local_addr().unwrap().to_string()).output().unwrap();
    assert!(!output.status.success(), "the address is taken");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("listening on"), "{stderr}");
    assert!(data.pgdata().join("PG_VERSION").exists(), "the cluster was created first");
    assert!(!data.pgdata().join("postmaster.pid").exists(), "and stopped on the way out");
}

#[tokio::test]
async fn missing_server_binaries_are_reported_clearly() {
    let data = DataDir::new();
    let empty = tempfile::tempdir().unwrap();
    let output = vibe(&data, &["serve"])
        .env("VIBE_POSTGRES_BIN", empty.path())
        .env("VIBE_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("VIBE_POSTGRES_BIN={}", empty.path().display())), "{stderr}");
    for hint in ["apt-get install postgresql", "VIBE_DATABASE_URL"] {
        assert!(stderr.contains(hint), "{hint} in: {stderr}");
    }
    assert!(!data.pgdata().exists(), "nothing was created");
}

#[tokio::test]
async fn a_data_dir_too_deep_for_a_socket_path_still_works() {
    // Deep enough that <data dir>/postgres/run/.s.PGSQL.5432 exceeds the 107 bytes of a socket path.
    let data = DataDir::new();
    let deep = data.path().join("d".repeat(60)).join("e".repeat(40));
    std::fs::create_dir_all(&deep).unwrap();
    for dir in [deep.parent().unwrap(), &deep] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let output = vibe(&data, &["migrate"]).env("VIBE_DATA_DIR", &deep).output().unwrap();
    assert!(output.status.success(), "vibe migrate: {}", String::from_utf8_lossy(&output.stderr));
    let settings = std::fs::read_to_string(deep.join("postgres/data/vibe.conf")).unwrap();
    let socket_dir = settings
        .lines()
        .find_map(|line| line.strip_prefix("unix_socket_directories = '"))
        .and_then(|rest| rest.strip_suffix('\''))
        .expect("the socket directory is configured");
    assert!(socket_dir.starts_with("/tmp/vibe-pg-"), "{settings}");
    assert!(!deep.join("postgres/data/postmaster.pid").exists(), "migrate stops the cluster it started");
    std::fs::remove_dir(socket_dir).unwrap();
}

#[tokio::test]
async fn a_data_dir_the_cluster_account_cannot_reach_is_explained() {
    let data = DataDir::new();
    let closed = data.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let output = vibe(&data, &["migrate"]).env("VIBE_DATA_DIR", closed.join("vibe")).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if nix::unistd::Uid::effective().is_root() {
        // The cluster runs as an unprivileged account, which cannot enter the 0700 directory.
        assert!(!output.status.success());
        assert!(stderr.contains(&format!("cannot enter {}", closed.display())), "{stderr}");
        assert!(stderr.contains("chmod o+x"), "{stderr}");
    } else {
        // The cluster runs as us, the directory's owner.
        assert!(output.status.success(), "{stderr}");
    }
}
