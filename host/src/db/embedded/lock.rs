//! Which `vibe` processes use a cluster, so the last one out stops it.
//!
//! Several processes may use one data directory at once (`vibe serve`, and a `vibe user create` run
//! beside it). Each holds a shared `flock` on `users.lock` for as long as it uses the cluster; starting
//! and stopping happen under an exclusive lock on `control.lock`. A stopping process gives up its shared
//! lock and stops the server only if it can then take `users.lock` exclusively, i.e. nobody else is
//! using the cluster. The kernel drops the locks of a process that dies, however it dies, so a killed
//! `vibe` never leaves a stale lock; the server it leaves running is found by the next start.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// How long to wait for another process to finish starting or stopping the cluster.
const CONTROL_WAIT: Duration = Duration::from_secs(120);

/// The two lock files of a cluster directory.
#[derive(Debug, Clone)]
pub struct LockFiles {
    control: PathBuf,
    users: PathBuf,
}

/// Held while starting or stopping the cluster.
pub struct ControlLock {
    _lock: Flock<File>,
}

/// Held while using the cluster.
pub struct UserLock {
    _lock: Flock<File>,
}

impl LockFiles {
    pub fn new(cluster_dir: &Path) -> Self {
        LockFiles { control: cluster_dir.join("control.lock"), users: cluster_dir.join("users.lock") }
    }

    /// Waits (boundedly) until no other process is starting or stopping the cluster.
    pub fn control(&self) -> anyhow::Result<ControlLock> {
        let started = Instant::now();
        loop {
            match Flock::lock(open(&self.control)?, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(ControlLock { _lock: lock }),
                Err((_, Errno::EWOULDBLOCK)) if started.elapsed() < CONTROL_WAIT => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err((_, Errno::EWOULDBLOCK)) => bail!(
                    "another vibe process has been starting or stopping the embedded cluster for {}s ({} is \
                     locked); check for a hung vibe process",
                    CONTROL_WAIT.as_secs(),
                    self.control.display()
                ),
                Err((_, errno)) => {
                    return Err(errno).with_context(|| format!("locking {}", self.control.display()));
                }
            }
        }
    }

    /// Registers this process as a user of the cluster. Call with the control lock held.
    pub fn register(&self, _control: &ControlLock) -> anyhow::Result<UserLock> {
        // Other users hold shared locks too and the control lock keeps stoppers out, so this never waits
        // for long.
        Flock::lock(open(&self.users)?, FlockArg::LockShared)
            .map(|lock| UserLock { _lock: lock })
            .map_err(|(_, errno)| errno)
            .with_context(|| format!("locking {}", self.users.display()))
    }

    /// Gives up `user` and tells whether this process was the cluster's last user. Call with the control
    /// lock held, so nobody can register in between.
    pub fn leave(&self, user: UserLock, _control: &ControlLock) -> anyhow::Result<bool> {
        drop(user);
        match Flock::lock(open(&self.users)?, FlockArg::LockExclusiveNonblock) {
            Ok(_alone) => Ok(true),
            Err((_, Errno::EWOULDBLOCK)) => Ok(false),
            Err((_, errno)) => Err(errno).with_context(|| format!("locking {}", self.users.display())),
        }
    }
}

fn open(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_user_out_is_told_so() {
        let dir = tempfile::tempdir().unwrap();
        let locks = LockFiles::new(dir.path());
        let (first, second) = {
            let control = locks.control().unwrap();
            (locks.register(&control).unwrap(), locks.register(&control).unwrap())
        };
        let control = locks.control().unwrap();
        assert!(!locks.leave(first, &control).unwrap(), "the second user is still there");
        assert!(locks.leave(second, &control).unwrap());
    }
}
