//! Driving the server programs: `initdb`, the settings Vibe owns, and `pg_ctl` start, stop and status.
//!
//! The cluster accepts no TCP connections at all (`listen_addresses = ''`): its only door is a Unix socket
//! in a 0700 directory of the cluster's account. That is what makes `--auth=trust` safe: only that
//! account (and root) can reach the socket, and they could read the data files anyway.

use std::ffi::OsStr;
use std::fs::DirBuilder;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use super::account::Account;
use super::binaries::Binaries;

/// The port the server's socket is named after (`.s.PGSQL.5432`); no TCP port is opened.
pub const PORT: u16 = 5432;
/// The cluster's superuser, which Vibe connects as.
pub const SUPERUSER: &str = "vibe";
/// The settings file Vibe rewrites on every start, included from `postgresql.conf`.
const SETTINGS_FILE: &str = "vibe.conf";
/// Longest path a Unix socket can have (`sun_path` is 108 bytes with its terminating NUL).
const MAX_SOCKET_PATH: usize = 107;
/// Seconds `pg_ctl` waits for the server to start or stop.
const PG_CTL_WAIT: &str = "60";
/// How long a crashed server's leftovers (its zombie, its children) may take to go away.
const REAP_WAIT: Duration = Duration::from_secs(10);

/// Where the cluster's parts live.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `<data dir>/postgres`: everything of the cluster, owned by its account, mode 0700.
    pub cluster_dir: PathBuf,
    /// The data directory proper (`PGDATA`).
    pub pgdata: PathBuf,
    /// The directory of the server's Unix socket.
    pub socket_dir: PathBuf,
    /// The server's log.
    pub log_file: PathBuf,
}

impl Layout {
    pub fn new(cluster_dir: &Path) -> Self {
        Layout {
            cluster_dir: cluster_dir.to_path_buf(),
            pgdata: cluster_dir.join("data"),
            socket_dir: socket_dir_for(cluster_dir, Path::new("/tmp")),
            log_file: cluster_dir.join("postgres.log"),
        }
    }
}

/// `<cluster_dir>/run` when the socket path fits the kernel's limit. Otherwise a short directory under
/// `short_root` named after a hash of `cluster_dir`, so each cluster keeps getting the same one.
fn socket_dir_for(cluster_dir: &Path, short_root: &Path) -> PathBuf {
    let preferred = cluster_dir.join("run");
    if socket_path(&preferred).as_os_str().len() <= MAX_SOCKET_PATH {
        return preferred;
    }
    let digest = Sha256::digest(cluster_dir.as_os_str().as_encoded_bytes());
    short_root.join(format!("vibe-pg-{}", hex::encode(&digest[..8])))
}

fn socket_path(dir: &Path) -> PathBuf {
    dir.join(format!(".s.PGSQL.{PORT}"))
}

/// Whether a server runs on the cluster, and with which socket directory.
#[derive(Debug, PartialEq, Eq)]
pub enum Status {
    Stopped,
    Running { socket_dir: PathBuf },
}

/// The cluster's programs, run as its account.
#[derive(Debug)]
pub struct Server {
    pub account: Account,
    pub bins: Binaries,
    pub layout: Layout,
}

impl Server {
    /// Runs `program` with `args` as the cluster's account in the cluster directory and returns its
    /// output, or an error carrying that output when it fails.
    fn run(&self, program: &str, args: &[&OsStr]) -> anyhow::Result<Output> {
        let path = self.bins.program(program);
        let output = self
            .account
            .command(&path, &self.layout.cluster_dir)
            .args(args)
            .output()
            .with_context(|| format!("running {} as {}", path.display(), self.account.name))?;
        if !output.status.success() {
            let said: Vec<String> = [&output.stdout, &output.stderr]
                .iter()
                .map(|bytes| String::from_utf8_lossy(bytes).trim().to_owned())
                .filter(|text| !text.is_empty())
                .collect();
            bail!("{program} failed ({}): {}", output.status, said.join("\n"));
        }
        Ok(output)
    }

    /// Creates the cluster: UTF-8, superuser `vibe`, trust authentication (see the module header).
    /// `initdb` works in a scratch directory renamed into place on success, so a start interrupted
    /// half-way leaves no half-made cluster behind.
    pub fn initdb(&self) -> anyhow::Result<()> {
        let scratch = self.layout.cluster_dir.join("data.initdb");
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)
                .with_context(|| format!("removing the unfinished cluster {}", scratch.display()))?;
        }
        tracing::info!(pgdata = %self.layout.pgdata.display(), "creating the embedded PostgreSQL cluster");
        self.run(
            "initdb",
            &[
                OsStr::new("--pgdata"),
                scratch.as_os_str(),
                OsStr::new("--username"),
                OsStr::new(SUPERUSER),
                OsStr::new("--auth=trust"),
                OsStr::new("--encoding=UTF8"),
                // The C locale exists on every machine; a locale missing from the system would stop the
                // server from starting later.
                OsStr::new("--no-locale"),
            ],
        )?;
        std::fs::rename(&scratch, &self.layout.pgdata)
            .with_context(|| format!("moving the new cluster to {}", self.layout.pgdata.display()))
    }

    /// Creates the socket directory, private to the cluster's account.
    pub fn prepare_socket_dir(&self) -> anyhow::Result<()> {
        let dir = &self.layout.socket_dir;
        if !dir.starts_with(&self.layout.cluster_dir) {
            tracing::info!(
                socket_dir = %dir.display(),
                "the socket path under the data directory would exceed the {MAX_SOCKET_PATH}-byte limit of Unix \
                 socket paths; using a short private directory instead"
            );
        }
        match DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => self.account.own(dir),
            Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                // The short directory lives in a shared place: use it only if it is a real directory,
                // private to our account, so nobody else can put a socket there.
                let meta = std::fs::symlink_metadata(dir)
                    .with_context(|| format!("inspecting {}", dir.display()))?;
                if !meta.is_dir() || meta.uid() != self.account.uid.as_raw() || meta.mode() & 0o077 != 0 {
                    bail!(
                        "{} exists but is not a private directory of the account {} (mode 0700); remove it, \
                         or choose a shorter VIBE_DATA_DIR",
                        dir.display(),
                        self.account.name
                    );
                }
                Ok(())
            }
            Err(err) => Err(err).with_context(|| format!("creating {}", dir.display())),
        }
    }

    /// Writes the settings Vibe owns (no TCP, the socket's place and mode) and includes them from
    /// `postgresql.conf` once; settings people add to `postgresql.conf` above the include stay theirs.
    pub fn write_settings(&self) -> anyhow::Result<()> {
        let socket_dir =
            self.layout.socket_dir.to_str().filter(|s| !s.contains(['\n', '\r'])).with_context(|| {
                format!("the socket directory {} is not a usable path", self.layout.socket_dir.display())
            })?;
        let settings = format!(
            "# Written by vibe on every start of the embedded cluster; edits here are lost.\n\
             listen_addresses = ''\n\
             port = {PORT}\n\
             unix_socket_directories = {}\n\
             unix_socket_permissions = 0700\n",
            quote(socket_dir)
        );
        let path = self.layout.pgdata.join(SETTINGS_FILE);
        std::fs::write(&path, settings).with_context(|| format!("writing {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        self.account.own(&path)?;

        let conf = self.layout.pgdata.join("postgresql.conf");
        let include = format!("include_if_exists = '{SETTINGS_FILE}'");
        let current =
            std::fs::read_to_string(&conf).with_context(|| format!("reading {}", conf.display()))?;
        if !current.lines().any(|line| line.trim() == include) {
            let mut file = std::fs::OpenOptions::new().append(true).open(&conf)?;
            writeln!(
                file,
                "\n# Settings vibe manages (socket only, no TCP); keep this line last.\n{include}"
            )
            .with_context(|| format!("writing {}", conf.display()))?;
        }
        Ok(())
    }

    /// Whether a server runs on the cluster (a `postmaster.pid` whose process is alive).
    pub fn status(&self) -> anyhow::Result<Status> {
        let output = self
            .account
            .command(&self.bins.program("pg_ctl"), &self.layout.cluster_dir)
            .arg("status")
            .arg("--pgdata")
            .arg(&self.layout.pgdata)
            .output()
            .context("running pg_ctl status")?;
        // pg_ctl status: 0 running, 3 not running, 4 no accessible data directory.
        match output.status.code() {
            Some(0) => {
                let pid_file = self.layout.pgdata.join("postmaster.pid");
                let text = std::fs::read_to_string(&pid_file).unwrap_or_default();
                let mut lines = text.lines();
                // A server killed outright stays a zombie until its new parent reaps it, and pg_ctl takes
                // that for a running server; it is not, and it no longer blocks a start once reaped.
                if let Some(pid) = lines.next().and_then(|l| l.trim().parse::<u32>().ok())
                    && !alive(pid)
                {
                    wait_reaped(pid);
                    return Ok(Status::Stopped);
                }
                // Line 5 of postmaster.pid is the first socket directory.
                let socket_dir = lines.nth(3).map(PathBuf::from).unwrap_or_default();
                Ok(Status::Running { socket_dir })
            }
            Some(3) => Ok(Status::Stopped),
            _ => bail!("pg_ctl status failed: {}", String::from_utf8_lossy(&output.stdout).trim()),
        }
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let log_before = std::fs::metadata(&self.layout.log_file).map(|m| m.len()).unwrap_or(0);
            let Err(err) = self.run(
                "pg_ctl",
                &[
                    OsStr::new("start"),
                    OsStr::new("--pgdata"),
                    self.layout.pgdata.as_os_str(),
                    OsStr::new("--log"),
                    self.layout.log_file.as_os_str(),
                    OsStr::new("--wait"),
                    OsStr::new("--timeout"),
                    OsStr::new(PG_CTL_WAIT),
                    OsStr::new("--silent"),
                ],
            ) else {
                return Ok(());
            };
            // After a crash, the old server's processes hold its shared memory for a moment longer, and the
            // new server refuses to start beside them; give them the time to notice and exit.
            let said = self.log_since(log_before);
            let leftovers =
                said.contains("pre-existing shared memory block") || said.contains("Is another postmaster");
            if leftovers && started.elapsed() < REAP_WAIT {
                tracing::info!("the previous PostgreSQL server's processes are still exiting; retrying");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
            return Err(err.context(format!(
                "starting the embedded PostgreSQL server; its log ({}) ends with:\n{}",
                self.layout.log_file.display(),
                self.log_tail(15)
            )));
        }
    }

    /// Stops the server (fast: open sessions are ended, nothing committed is lost) and waits for it.
    pub fn stop(&self) -> anyhow::Result<()> {
        let result = self.run(
            "pg_ctl",
            &[
                OsStr::new("stop"),
                OsStr::new("--pgdata"),
                self.layout.pgdata.as_os_str(),
                OsStr::new("--mode=fast"),
                OsStr::new("--wait"),
                OsStr::new("--timeout"),
                OsStr::new(PG_CTL_WAIT),
                OsStr::new("--silent"),
            ],
        );
        match result {
            Ok(_) => Ok(()),
            // It may have stopped on its own (or been stopped by someone) in the meantime.
            Err(_) if self.status()? == Status::Stopped => Ok(()),
            Err(err) => Err(err.context("stopping the embedded PostgreSQL server")),
        }
    }

    /// What the server logged after the log was `offset` bytes long.
    fn log_since(&self, offset: u64) -> String {
        let text = std::fs::read(&self.layout.log_file).unwrap_or_default();
        String::from_utf8_lossy(text.get(offset as usize..).unwrap_or_default()).into_owned()
    }

    /// The last `lines` lines of the server's log.
    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.layout.log_file).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Whether process `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// Waits (a little) for a dead process's entry to disappear.
fn wait_reaped(pid: u32) {
    let started = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() && started.elapsed() < REAP_WAIT {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A string value in PostgreSQL's configuration syntax.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_data_dirs_keep_the_socket_inside() {
        let dir = socket_dir_for(Path::new("/srv/vibe/postgres"), Path::new("/tmp"));
        assert_eq!(dir, Path::new("/srv/vibe/postgres/run"));
    }

    #[test]
    fn long_data_dirs_get_a_short_socket_dir_of_their_own() {
        let long = PathBuf::from(format!("/srv/{}/postgres", "d".repeat(90)));
        let other = PathBuf::from(format!("/srv/{}/postgres", "e".repeat(90)));
        let dir = socket_dir_for(&long, Path::new("/tmp"));
        assert!(dir.to_string_lossy().starts_with("/tmp/vibe-pg-"), "{}", dir.display());
        assert!(socket_path(&dir).as_os_str().len() <= MAX_SOCKET_PATH);
        assert_eq!(dir, socket_dir_for(&long, Path::new("/tmp")), "stable across starts");
        assert_ne!(dir, socket_dir_for(&other, Path::new("/tmp")), "one per cluster");
    }

    #[test]
    fn the_limit_is_exact() {
        // "/" + 88 characters + "/run" + "/.s.PGSQL.5432" = 107 bytes: fits; one more does not.
        let exact = PathBuf::from(format!("/{}", "x".repeat(88)));
        assert_eq!(socket_dir_for(&exact, Path::new("/tmp")), exact.join("run"));
        let over = PathBuf::from(format!("/{}", "x".repeat(89)));
        assert_ne!(socket_dir_for(&over, Path::new("/tmp")), over.join("run"));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("/srv/vibe/run"), "'/srv/vibe/run'");
        assert_eq!(quote("/it's\\here"), "'/it''s\\\\here'");
    }
}
