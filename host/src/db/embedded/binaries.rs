//! Finding the PostgreSQL server binaries the embedded cluster runs on.
//!
//! Vibe ships no PostgreSQL of its own: it uses the server installed on the machine. In order, it looks at
//! the directory named by `VIBE_POSTGRES_BIN` (authoritative when set), the newest Debian/Ubuntu install
//! under `/usr/lib/postgresql/<version>/bin`, `pg_config --bindir`, then `initdb` on `PATH`. An existing
//! cluster pins the major version: its data files only open with the same major version's server.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Where Debian and Ubuntu install each PostgreSQL major version side by side.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The programs the embedded cluster needs.
const REQUIRED: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// What to tell someone whose machine has no usable server binaries.
const INSTALL_HINT: &str = "Install them (Debian/Ubuntu: `apt-get install postgresql`), or set VIBE_POSTGRES_BIN \
     to the directory holding them, or set VIBE_DATABASE_URL to use an existing PostgreSQL server instead";

/// A directory holding `initdb`, `pg_ctl` and `postgres`.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub dir: PathBuf,
}

impl Binaries {
    /// Finds the server binaries: `explicit` when given, otherwise the machine's newest install, preferring
    /// `cluster_major` (the major version an existing cluster was created with) when it is installed.
    pub fn find(explicit: Option<&Path>, cluster_major: Option<&str>) -> anyhow::Result<Self> {
        let dir = find_in(
            explicit,
            cluster_major,
            Path::new(DEBIAN_ROOT),
            pg_config_bindir,
            std::env::var_os("PATH").as_deref(),
        )?;
        // Absolute: the programs are started from the cluster's directory, not ours.
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        Ok(Binaries { dir })
    }

    pub fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The server's version line, e.g. `PostgreSQL 16.4 (Debian 16.4-1)`.
    pub fn version(&self) -> anyhow::Result<String> {
        // `--version` is answered before the server's refusal to run as root, so no account switch is needed.
        let output = Command::new(self.program("postgres"))
            .arg("--version")
            .output()
            .with_context(|| format!("running {} --version", self.program("postgres").display()))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let version = text.trim().trim_start_matches("postgres (PostgreSQL)").trim();
        if !output.status.success() || version.is_empty() {
            bail!("{} --version did not report a version", self.program("postgres").display());
        }
        Ok(format!("PostgreSQL {version}"))
    }
}

/// The major version in a version line or a `PG_VERSION` file: `16` for 16.4, `9.6` for 9.6.24.
pub fn major_version(version: &str) -> Option<String> {
    let number = version.split_whitespace().find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = number.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty());
    let first: u64 = parts.next()?.parse().ok()?;
    // Before PostgreSQL 10 the major version had two numbers.
    match first {
        10.. => Some(first.to_string()),
        _ => Some(format!("{first}.{}", parts.next()?)),
    }
}

/// [`Binaries::find`] with every source of candidates a parameter, so tests can fake them.
fn find_in(
    explicit: Option<&Path>,
    cluster_major: Option<&str>,
    debian_root: &Path,
    pg_config: impl FnOnce() -> Option<PathBuf>,
    path_var: Option<&OsStr>,
) -> anyhow::Result<PathBuf> {
    if let Some(dir) = explicit {
        if has_server(dir) {
            return Ok(dir.to_path_buf());
        }
        bail!(
            "VIBE_POSTGRES_BIN={} does not hold the PostgreSQL server binaries ({}). Point it at the directory \
             that does (e.g. {DEBIAN_ROOT}/<version>/bin), install them (Debian/Ubuntu: `apt-get install \
             postgresql`), or set VIBE_DATABASE_URL to use an existing PostgreSQL server instead.",
            dir.display(),
            REQUIRED.join(", ")
        );
    }
    if let Some(major) = cluster_major {
        let pinned = debian_root.join(major).join("bin");
        if has_server(&pinned) {
            return Ok(pinned);
        }
    }
    if let Some(dir) = newest_under(debian_root) {
        return Ok(dir);
    }
    if let Some(dir) = pg_config().filter(|dir| has_server(dir)) {
        return Ok(dir);
    }
    if let Some(dir) = path_var.and_then(on_path) {
        return Ok(dir);
    }
    bail!(
        "no PostgreSQL server binaries ({}) found in {DEBIAN_ROOT}/*/bin, `pg_config --bindir` or PATH. \
         {INSTALL_HINT}.",
        REQUIRED.join(", ")
    )
}

/// The `bin` directory of the highest version under `root` that holds the server binaries.
fn newest_under(root: &Path) -> Option<PathBuf> {
    let mut versions: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            // Version-sorted as numbers, so 10 comes after 9.6; names that are not versions are skipped.
            let version: Option<Vec<u64>> = name.to_str()?.split('.').map(|p| p.parse().ok()).collect();
            Some((version?, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions.into_iter().rev().map(|(_, dir)| dir).find(|dir| has_server(dir))
}

/// `pg_config --bindir`, if `pg_config` runs.
fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| PathBuf::from(text.trim()))
}

/// The directory of the first `initdb` on `path_var`, following symlinks (Debian links
/// `/usr/bin/initdb`-style wrappers to the real bin directory, where `postgres` lives too).
fn on_path(path_var: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path_var).find_map(|dir| {
        let initdb = dir.join("initdb");
        if !is_executable(&initdb) {
            return None;
        }
        let real = std::fs::canonicalize(&initdb).ok()?.parent()?.to_path_buf();
        [real, dir].into_iter().find(|d| has_server(d))
    })
}

fn has_server(dir: &Path) -> bool {
    REQUIRED.iter().all(|name| is_executable(&dir.join(name)))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_install(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for name in REQUIRED {
            let path = dir.join(name);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    fn no_pg_config() -> Option<PathBuf> {
        None
    }

    #[test]
    fn picks_the_newest_version_numerically() {
        let root = tempfile::tempdir().unwrap();
        for version in ["9.6", "10", "16", "9"] {
            fake_install(&root.path().join(version).join("bin"));
        }
        // Newer but incomplete (only the client installed), and a directory that is not a version.
        std::fs::create_dir_all(root.path().join("17/bin")).unwrap();
        fake_install(&root.path().join("latest/bin"));

        let found = find_in(None, None, root.path(), no_pg_config, None).unwrap();
        assert_eq!(found, root.path().join("16/bin"));
    }

    #[test]
    fn an_existing_cluster_pins_its_major_version() {
        let root = tempfile::tempdir().unwrap();
        for version in ["15", "16"] {
            fake_install(&root.path().join(version).join("bin"));
        }
        let found = find_in(None, Some("15"), root.path(), no_pg_config, None).unwrap();
        assert_eq!(found, root.path().join("15/bin"));
        // A cluster of a version no longer installed falls back to the newest (the caller then reports
        // the mismatch).
        let found = find_in(None, Some("14"), root.path(), no_pg_config, None).unwrap();
        assert_eq!(found, root.path().join("16/bin"));
    }

    #[test]
    fn falls_back_to_pg_config_then_path() {
        let empty = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let bin = elsewhere.path().join("pg/bin");
        fake_install(&bin);

        let from_pg_config = find_in(None, None, empty.path(), || Some(bin.clone()), None).unwrap();
        assert_eq!(from_pg_config, bin);

        let path_var = std::env::join_paths([empty.path(), &bin]).unwrap();
        let from_path = find_in(None, None, empty.path(), no_pg_config, Some(&path_var)).unwrap();
        assert_eq!(from_path, std::fs::canonicalize(&bin).unwrap());
    }

    #[test]
    fn nothing_found_names_the_package_and_the_variables() {
        let empty = tempfile::tempdir().unwrap();
        let err = find_in(None, None, empty.path(), no_pg_config, Some(OsStr::new(""))).unwrap_err();
        let message = err.to_string();
        for expected in ["apt-get install postgresql", "VIBE_POSTGRES_BIN", "VIBE_DATABASE_URL"] {
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn an_explicit_directory_is_authoritative() {
        let root = tempfile::tempdir().unwrap();
        fake_install(&root.path().join("16/bin"));
        let empty = tempfile::tempdir().unwrap();
        let err = find_in(Some(empty.path()), None, root.path(), no_pg_config, None).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&format!("VIBE_POSTGRES_BIN={}", empty.path().display())), "{message}");
        assert!(message.contains("apt-get install postgresql"), "{message}");

        let chosen = root.path().join("16/bin");
        assert_eq!(find_in(Some(&chosen), None, empty.path(), no_pg_config, None).unwrap(), chosen);
    }

    #[test]
    fn major_versions() {
        assert_eq!(major_version("PostgreSQL 16.4 (Debian 16.4-1.pgdg120+2)").as_deref(), Some("16"));
        assert_eq!(major_version("postgres (PostgreSQL) 9.6.24").as_deref(), Some("9.6"));
        assert_eq!(major_version("15\n").as_deref(), Some("15"));
        assert_eq!(major_version("PostgreSQL 17beta1").as_deref(), Some("17"));
        assert_eq!(major_version("unknown"), None);
    }
}
