//! Running cargo under the build's limits: its own process group, so that cargo and every rustc,
//! linker and build script it starts can be stopped together; a wall-clock limit; and a memory
//! limit on the whole group.
//!
//! Memory is measured, not capped by `setrlimit`: `RLIMIT_AS` limits address space per process,
//! not memory per build, and rustc and LLVM reserve far more address space than they use (thread
//! stacks, allocator arenas), so a limit that means "4 GB of memory" fails healthy builds with
//! confusing allocation aborts, while N parallel rustc each get the whole limit. Cgroups would be
//! exact but need privileges a plain `vibe serve` does not have. So the group's proportional set
//! size (PSS, shared library pages split between the processes sharing them; RSS when PSS is not
//! readable) is summed from `/proc` every [`MEMORY_POLL`]; over the limit, the group is killed
//! and the build reported out of memory. A spike shorter than one poll can pass unseen.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

/// How often the group's memory is measured.
const MEMORY_POLL: Duration = Duration::from_millis(200);
/// How much of cargo's standard error is kept (the end of it, where the errors are).
const STDERR_KEPT: usize = 64 << 10;
/// How long to wait for killed processes to be gone.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// How a supervised run ended.
#[derive(Debug)]
pub(super) enum Ended {
    /// Cargo exited by itself.
    Exited(ExitStatus),
    /// The time limit passed; the group was killed.
    TimedOut,
    /// The group used more memory than allowed (this many bytes when measured); it was killed.
    OutOfMemory(u64),
}

/// The limits a run is held to.
#[derive(Clone, Copy, Debug)]
pub(super) struct RunLimits {
    pub timeout: Duration,
    pub memory_bytes: u64,
}

/// Runs `command` in a process group of its own under `limits`, handing each line of its standard
/// output to `on_line`; returns how it ended and the end of its standard error. When this returns
/// (or its future is dropped), no process of the group is left running.
pub(super) async fn run<F>(
    mut command: Command,
    limits: RunLimits,
    mut on_line: F,
) -> io::Result<(Ended, String)>
where
    F: FnMut(&str) + Send + 'static,
{
    command
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn()?;
    let pid = child.id().ok_or_else(|| io::Error::other("cargo exited before it could be watched"))?;
    let mut group = Group { pgid: i32::try_from(pid).map_err(io::Error::other)?, armed: true };

    let stdout = child.stdout.take().expect("stdout is piped");
    let stdout = tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            on_line(&line);
        }
    });
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let stderr = tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut chunk = [0u8; 8192];
        while let Ok(read @ 1..) = stderr.read(&mut chunk).await {
            kept.extend_from_slice(&chunk[..read]);
            if kept.len() > 2 * STDERR_KEPT {
                kept.drain(..kept.len() - STDERR_KEPT);
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    });

    let deadline = tokio::time::sleep(limits.timeout);
    tokio::pin!(deadline);
    let mut poll = tokio::time::interval(MEMORY_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ended = loop {
        tokio::select! {
            status = child.wait() => break Ended::Exited(status?),
            () = &mut deadline => break Ended::TimedOut,
            _ = poll.tick() => {
                let pgid = group.pgid;
                let used = tokio::task::spawn_blocking(move || group_memory(pgid)).await.unwrap_or(0);
                if used > limits.memory_bytes {
                    break Ended::OutOfMemory(used);
                }
            }
        }
    };
    if !matches!(ended, Ended::Exited(_)) {
        group.kill().await;
        // Cargo is the group leader: reaping it only now keeps its id (the group's) from being reused.
        child.wait().await?;
    }
    group.armed = false;

    // Everything writing to the pipes is gone; the readers reach their end.
    let _ = tokio::time::timeout(KILL_GRACE, stdout).await;
    let stderr = tokio::time::timeout(KILL_GRACE, stderr).await.ok().and_then(Result::ok).unwrap_or_default();
    Ok((ended, stderr))
}

/// A process group that is killed when dropped while armed (a compile whose future is dropped
/// leaves nothing running).
struct Group {
    pgid: i32,
    armed: bool,
}

impl Group {
    /// Kills every process of the group and waits (up to [`KILL_GRACE`]) until none is running.
    async fn kill(&self) {
        let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
        let started = tokio::time::Instant::now();
        let pgid = self.pgid;
        while started.elapsed() < KILL_GRACE {
            let running =
                tokio::task::spawn_blocking(move || !group_members(pgid).is_empty()).await.unwrap_or(false);
            if !running {
                return;
            }
            // A process forked between the signal and now: signal it too.
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(pgid, "processes of a killed build are still running");
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.armed {
            let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
        }
    }
}

/// The running (not yet exited) processes of group `pgid`.
fn group_members(pgid: i32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so read after
            // the last ')'.
            let Some((_, rest)) = stat.rsplit_once(')') else { return false };
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            let pgrp = fields.nth(1).and_then(|field| field.parse::<i32>().ok());
            pgrp == Some(pgid) && !matches!(state, Some("Z" | "X"))
        })
        .collect()
}

/// The memory group `pgid` uses, in bytes: the sum of its processes' PSS (RSS when unreadable).
fn group_memory(pgid: i32) -> u64 {
    group_members(pgid)
        .into_iter()
        .map(|pid| {
            let field_kb = |file: &str, field: &str| {
                let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
                let line = text.lines().find(|line| line.starts_with(field))?;
                line[field.len()..].trim().trim_end_matches("kB").trim().parse::<u64>().ok()
            };
            let kb = field_kb("smaps_rollup", "Pss:").or_else(|| field_kb("status", "VmRSS:")).unwrap_or(0);
            kb * 1024
        })
        .sum()
}
