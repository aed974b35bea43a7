//! The operating-system account the embedded cluster runs as.
//!
//! PostgreSQL refuses to run as root (`initdb`, `pg_ctl` and `postgres` all check), and a root-owned
//! database would be a poor idea anyway. So when Vibe runs as root (containers, CI) it runs the server
//! programs as the unprivileged `postgres` account, or `nobody` when there is none, owns the cluster's
//! directories to it, and first checks that the account can reach them at all. Otherwise the cluster runs
//! as whoever runs Vibe.

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use nix::unistd::{Gid, Uid, User};

/// Accounts tried, in order, when Vibe runs as root.
const UNPRIVILEGED: [&str; 2] = ["postgres", "nobody"];

/// Who the cluster's programs run as.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
    /// Every group the account is in (its primary group included).
    groups: Vec<Gid>,
    /// Whether programs must be started as this account (Vibe runs as root).
    switch: bool,
}

impl Account {
    /// The account for this process: an unprivileged one when running as root, else the current user.
    pub fn select() -> anyhow::Result<Self> {
        let euid = Uid::effective();
        if !euid.is_root() {
            let name =
                User::from_uid(euid).ok().flatten().map(|u| u.name).unwrap_or_else(|| euid.to_string());
            return Ok(Account { name, uid: euid, gid: Gid::effective(), groups: Vec::new(), switch: false });
        }
        for name in UNPRIVILEGED {
            if let Some(user) =
                User::from_name(name).with_context(|| format!("looking up the account {name}"))?
            {
                let groups = CString::new(name)
                    .ok()
                    .and_then(|c| nix::unistd::getgrouplist(&c, user.gid).ok())
                    .unwrap_or_else(|| vec![user.gid]);
                if name == "nobody" {
                    tracing::warn!(
                        "no `postgres` account: the embedded cluster runs as `nobody`, which other services may \
                         share (they could then reach its data); create a `postgres` account to keep it private"
                    );
                }
                return Ok(Account { name: user.name, uid: user.uid, gid: user.gid, groups, switch: true });
            }
        }
        bail!(
            "Vibe runs as root, and PostgreSQL refuses to; the embedded cluster needs an unprivileged account \
             named `postgres` (or `nobody`) to run as, and neither exists. Create one (`useradd --system \
             postgres`), run vibe as an unprivileged user, or set VIBE_DATABASE_URL."
        )
    }

    /// A command that runs `program` as this account, in `cwd`, with no `PG*` variables from our
    /// environment (they would override what we pass) and no stdin.
    pub fn command(&self, program: &Path, cwd: &Path) -> Command {
        let mut command = Command::new(program);
        // The account must be able to enter its working directory: the programs resolve their own path
        // through it, and root's may be closed to it.
        command.current_dir(cwd).stdin(Stdio::null());
        for (key, _) in std::env::vars_os() {
            if key.to_str().is_some_and(|k| k.starts_with("PG")) {
                command.env_remove(key);
            }
        }
        if self.switch {
            // std drops root's supplementary groups before switching user.
            command.uid(self.uid.as_raw()).gid(self.gid.as_raw());
        }
        command
    }

    /// Gives `path` to this account (when Vibe runs as root; otherwise it is ours already).
    pub fn own(&self, path: &Path) -> anyhow::Result<()> {
        if self.switch {
            nix::unistd::chown(path, Some(self.uid), Some(self.gid))
                .with_context(|| format!("giving {} to the account {}", path.display(), self.name))?;
        }
        Ok(())
    }

    /// Checks that this account can enter every directory from `/` down to `dir` (which must exist).
    pub fn check_reaches(&self, dir: &Path) -> anyhow::Result<()> {
        if !self.switch {
            return Ok(());
        }
        for ancestor in dir.ancestors().collect::<Vec<_>>().into_iter().rev() {
            let meta =
                std::fs::metadata(ancestor).with_context(|| format!("inspecting {}", ancestor.display()))?;
            let groups: Vec<u32> = self.groups.iter().map(|g| g.as_raw()).collect();
            if !may_enter(meta.mode(), meta.uid(), meta.gid(), self.uid.as_raw(), &groups) {
                bail!(
                    "the embedded PostgreSQL cluster runs as the unprivileged account `{name}` (PostgreSQL \
                     refuses to run as root), and `{name}` cannot enter {dir} (mode {mode:o}, owner uid {owner}). \
                     Choose a VIBE_DATA_DIR it can reach (e.g. /var/lib/vibe), let it in with \
                     `chmod o+x {dir}`, run vibe as an unprivileged user, or set VIBE_DATABASE_URL.",
                    name = self.name,
                    dir = ancestor.display(),
                    mode = meta.mode() & 0o7777,
                    owner = meta.uid(),
                );
            }
        }
        Ok(())
    }
}

/// Whether a process of user `uid` in `groups` may search a directory of `mode`, `owner` and `group`.
/// The owner's bits apply to the owner alone, the group's to members, the others' to everyone else.
fn may_enter(mode: u32, owner: u32, group: u32, uid: u32, groups: &[u32]) -> bool {
    if uid == owner {
        mode & 0o100 != 0
    } else if groups.contains(&group) {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::may_enter;

    #[test]
    fn permission_classes() {
        const ROOT: u32 = 0;
        const PG: u32 = 101;
        const PG_GROUP: u32 = 104;
        // /root is typically 0700: closed to everyone else.
        assert!(!may_enter(0o40700, ROOT, ROOT, PG, &[PG_GROUP]));
        assert!(may_enter(0o40755, ROOT, ROOT, PG, &[PG_GROUP]));
        assert!(may_enter(0o40711, ROOT, ROOT, PG, &[PG_GROUP]));
        // Group bits for members only.
        assert!(may_enter(0o40750, ROOT, PG_GROUP, PG, &[PG_GROUP]));
        assert!(!may_enter(0o40705, ROOT, PG_GROUP, PG, &[PG_GROUP]));
        // The owner's bits win even when others may enter.
        assert!(!may_enter(0o40011, PG, PG_GROUP, PG, &[PG_GROUP]));
        assert!(may_enter(0o40700, PG, PG_GROUP, PG, &[PG_GROUP]));
    }
}
