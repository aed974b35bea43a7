//! Code ownership: every app's code in a git repository of its own, one commit per version, tagged
//! `v{number}`, downloadable as a tarball.
//!
//! The repositories are bare (`<root>/<app id>.git`) and written with git's plumbing only
//! (`fast-import` for a version's commit, `update-ref` to publish it), so there is no working tree
//! to race on and no hook ever runs; writes to one app's repository take turns in this process.
//! A version's tree is exactly its files (`deleteall` first): a file a version dropped is gone from
//! its commit. Publishing the tag refuses to replace an existing one, so a version is written once;
//! committing the same version again with the same files (a retried build) returns its commit.
//!
//! git runs from the command line with a cleared environment: no system or global configuration is
//! read, the author and committer are the platform, and nothing prompts.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// Who authors and commits every version.
const AUTHOR_NAME: &str = "Vibe";
const AUTHOR_EMAIL: &str = "builds@vibe.invalid";
/// The branch that holds the versions in order.
const BRANCH: &str = "refs/heads/main";
/// Where a version's commit waits while it is checked against an existing tag.
const PENDING: &str = "refs/vibe/pending";
/// How long one git command may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(60);

/// A version in an app's repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedVersion {
    pub number: i32,
    /// The commit's sha, 40 hex digits.
    pub commit: String,
}

/// The apps' repositories under one directory.
pub struct Repos {
    root: PathBuf,
    git: PathBuf,
    /// One lock per app: commits of one app's versions take turns.
    writing: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

impl Repos {
    /// The repositories under `root` (the server's `data_dir/repos`), with the `git` on `PATH`.
    pub fn new(root: PathBuf) -> Repos {
        Repos::with_git(root, PathBuf::from("git"))
    }

    /// The repositories under `root`, written with the git binary `git`.
    pub fn with_git(root: PathBuf, git: PathBuf) -> Repos {
        Repos { root, git, writing: Mutex::new(HashMap::new()) }
    }

    /// Where app `app_id`'s repository is.
    pub fn path(&self, app_id: Uuid) -> PathBuf {
        self.root.join(format!("{app_id}.git"))
    }

    /// Commits `files` (path → contents) as version `number` of the app, on top of its previous
    /// version, and tags it `v{number}`; returns the commit's sha. The tree holds exactly `files`.
    pub async fn commit_version(
        &self,
        app_id: Uuid,
        number: i32,
        files: &BTreeMap<String, String>,
        message: &str,
    ) -> anyhow::Result<String> {
        if number < 1 {
            bail!("version numbers start at 1, not {number}");
        }
        for path in files.keys() {
            check_path(path)?;
        }
        let lock = self.lock(app_id);
        let _turn = lock.lock().await;
        let dir = self.path(app_id);
        if !dir.join("HEAD").exists() {
            tokio::fs::create_dir_all(&self.root).await.context("creating the repositories' directory")?;
            let target = dir.to_str().context("the repository's path is not UTF-8")?;
            self.git(
                None,
                &["init", "--quiet", "--bare", "--template=", "--initial-branch=main", target],
                None,
            )
            .await?;
        }
        let parent = self.resolve(&dir, BRANCH).await?;
        let stream = fast_import_stream(parent.as_deref(), files, message);
        self.git(Some(&dir), &["fast-import", "--quiet", "--force", "--date-format=now"], Some(stream))
            .await?;
        let commit = self.resolve(&dir, PENDING).await?.context("the new commit was not written")?;
        let tag = format!("refs/tags/v{number}");
        let outcome = match self.resolve(&dir, &tag).await? {
            Some(existing) => {
                let (before, now) = (self.tree(&dir, &existing).await?, self.tree(&dir, &commit).await?);
                if before == now {
                    Ok(existing)
                } else {
                    Err(anyhow::anyhow!(
                        "version {number} is already in the app's repository, with other files"
                    ))
                }
            }
            None => {
                // The tag must not exist yet (empty old value), the branch must not have moved.
                self.git(Some(&dir), &["update-ref", &tag, &commit, ""], None).await?;
                let old = parent.as_deref().unwrap_or("");
                self.git(Some(&dir), &["update-ref", BRANCH, &commit, old], None).await?;
                Ok(commit)
            }
        };
        self.git(Some(&dir), &["update-ref", "-d", PENDING], None).await?;
        outcome
    }

    /// The app's versions, in number order.
    pub async fn versions(&self, app_id: Uuid) -> anyhow::Result<Vec<CommittedVersion>> {
        let dir = self.existing(app_id)?;
        let listed = self
            .git(
                Some(&dir),
                &["for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/tags/"],
                None,
            )
            .await?;
        let mut versions: Vec<CommittedVersion> = String::from_utf8_lossy(&listed)
            .lines()
            .filter_map(|line| {
                let (name, commit) = line.split_once(' ')?;
                let number = name.strip_prefix('v')?.parse().ok()?;
                Some(CommittedVersion { number, commit: commit.to_owned() })
            })
            .collect();
        versions.sort_by_key(|version| version.number);
        Ok(versions)
    }

    /// Version `number` of the app (`None`: the latest) as a `.tar.gz`, its files under
    /// `<app id>-v<number>/`.
    pub async fn tarball(&self, app_id: Uuid, number: Option<i32>) -> anyhow::Result<Vec<u8>> {
        self.tarball_named(app_id, number, &app_id.to_string()).await
    }

    /// [`Repos::tarball`] with the files under `<name>-v<number>/` (`name`: the app's slug).
    pub async fn tarball_named(
        &self,
        app_id: Uuid,
        number: Option<i32>,
        name: &str,
    ) -> anyhow::Result<Vec<u8>> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')) {
            bail!("{name:?} cannot name a tarball's folder: letters, digits, - and _ only");
        }
        let versions = self.versions(app_id).await?;
        let version = match number {
            Some(number) => versions.iter().find(|version| version.number == number),
            None => versions.last(),
        };
        let Some(version) = version else {
            match number {
                Some(number) => bail!("the app has no version {number} in its repository"),
                None => bail!("the app's repository has no version yet"),
            }
        };
        let dir = self.path(app_id);
        let prefix = format!("--prefix={name}-v{}/", version.number);
        self.git(Some(&dir), &["archive", "--format=tar.gz", &prefix, &version.commit], None).await
    }

    /// The app's repository, which must exist.
    fn existing(&self, app_id: Uuid) -> anyhow::Result<PathBuf> {
        let dir = self.path(app_id);
        if !dir.join("HEAD").exists() {
            bail!("the app has no code repository yet");
        }
        Ok(dir)
    }

    fn lock(&self, app_id: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        // Each update is one insert, so a poisoned map is still whole.
        let mut locks = self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(app_id).or_default().clone()
    }

    /// The commit `reference` names, if it exists.
    async fn resolve(&self, dir: &Path, reference: &str) -> anyhow::Result<Option<String>> {
        let wanted = format!("{reference}^{{commit}}");
        match self.git(Some(dir), &["rev-parse", "--verify", "--quiet", &wanted], None).await {
            Ok(out) => Ok(Some(String::from_utf8_lossy(&out).trim().to_owned())),
            Err(error) if error.downcast_ref::<GitFailed>().is_some() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The tree of `commit`.
    async fn tree(&self, dir: &Path, commit: &str) -> anyhow::Result<String> {
        let out = self.git(Some(dir), &["rev-parse", &format!("{commit}^{{tree}}")], None).await?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// Runs git with `args` (on the repository `dir`), feeding it `input`; its standard output.
    async fn git(
        &self,
        dir: Option<&Path>,
        args: &[&str],
        input: Option<Vec<u8>>,
    ) -> anyhow::Result<Vec<u8>> {
        let mut command = tokio::process::Command::new(&self.git);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
            .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
            .env("GIT_COMMITTER_NAME", AUTHOR_NAME)
            .env("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL)
            .args(["-c", "core.hooksPath=/dev/null"])
            .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = dir {
            command.arg("--git-dir").arg(dir);
        }
        command.args(args);
        let mut child = command.spawn().map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => {
                anyhow::anyhow!(
                    "the `git` command ({}) is not installed; it keeps each app's code",
                    self.git.display()
                )
            }
            _ => anyhow::Error::from(error).context("starting git"),
        })?;
        let stdin = child.stdin.take();
        let feed = async move {
            if let (Some(mut stdin), Some(input)) = (stdin, input) {
                stdin.write_all(&input).await?;
            }
            std::io::Result::Ok(())
        };
        let run = async { tokio::join!(feed, child.wait_with_output()) };
        let (fed, output) = tokio::time::timeout(GIT_TIMEOUT, run)
            .await
            .map_err(|_| anyhow::anyhow!("git {} took over {} s", args[0], GIT_TIMEOUT.as_secs()))?;
        let output = output.context("running git")?;
        if !output.status.success() {
            return Err(GitFailed {
                command: args[0].to_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            }
            .into());
        }
        fed.with_context(|| format!("feeding git {}", args[0]))?;
        Ok(output.stdout)
    }
}

/// git ran and said no.
#[derive(Debug, thiserror::Error)]
#[error("git {command} failed: {stderr}")]
struct GitFailed {
    command: String,
    stderr: String,
}

/// Refuses a path git would store elsewhere than it says, or that fast-import would misread.
fn check_path(path: &str) -> anyhow::Result<()> {
    let fine = !path.is_empty()
        && !path.starts_with('"')
        && !path.contains(['\n', '\r', '\0', '\\'])
        && path.split('/').all(|part| !matches!(part, "" | "." | "..") && !part.eq_ignore_ascii_case(".git"));
    if !fine {
        bail!("{path:?} is not a relative path a repository can hold");
    }
    Ok(())
}

/// The `git fast-import` commands writing a commit of exactly `files` on `parent` to [`PENDING`].
fn fast_import_stream(parent: Option<&str>, files: &BTreeMap<String, String>, message: &str) -> Vec<u8> {
    let mut stream = Vec::new();
    stream.extend_from_slice(format!("commit {PENDING}\n").as_bytes());
    stream.extend_from_slice(format!("committer {AUTHOR_NAME} <{AUTHOR_EMAIL}> now\n").as_bytes());
    data(&mut stream, message.as_bytes());
    if let Some(parent) = parent {
        stream.extend_from_slice(format!("from {parent}\n").as_bytes());
    }
    stream.extend_from_slice(b"deleteall\n");
    for (path, contents) in files {
        stream.extend_from_slice(format!("M 100644 inline {path}\n").as_bytes());
        data(&mut stream, contents.as_bytes());
    }
    stream.extend_from_slice(b"\ndone\n");
    stream
}

/// A fast-import `data` command: the exact byte count, then the bytes.
fn data(stream: &mut Vec<u8>, bytes: &[u8]) {
    stream.extend_from_slice(format!("data {}\n", bytes.len()).as_bytes());
    stream.extend_from_slice(bytes);
    stream.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_tree_are_refused() {
        for bad in ["", "/etc/passwd", "../x", "src//lib.rs", "src/./lib.rs", ".git/config", "a\nb", "\"q"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        for good in ["src/lib.rs", "migrations/0001_initial.sql", "Cargo.toml", "a b.txt"] {
            assert!(check_path(good).is_ok(), "{good:?}");
        }
    }
}
