//! The build workspace under `<data_dir>/build/`: the files cargo compiles a generated app from.
//!
//! ```text
//! sdk/Cargo.toml        the SDK's workspace (member: vibe-app-sdk), from the embedded manifest
//! sdk/vibe-app-sdk/     the SDK's sources, embedded in the `vibe` binary (host/build.rs)
//! wit/                  the WIT the SDK's bindings are generated from (`../../wit` from the SDK)
//! apps/<crate>/         one crate per app: the platform's Cargo.toml, the SDK's Cargo.lock, and
//!                       the generated src/ and migrations/
//! target/               the target directory every app shares (target-1/, … for builds running
//!                       at the same time)
//! ```
//!
//! Generated code supplies only `src/**.rs` and `migrations/*.sql`: the manifest is ours, so an app
//! cannot add a build script, a proc-macro or a dependency that would run code on the host. Each app
//! crate is a workspace of its own, so one app's files never affect another's build; as every app
//! sits at the same depth and uses the same profile and lock file, the SDK and its dependencies
//! compile once into the shared target directory and every later app reuses them.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::codegen::GeneratedApp;

include!(concat!(env!("OUT_DIR"), "/sdk_sources.rs"));

/// The most files a generated app may have.
pub const MAX_FILES: usize = 200;
/// The largest single file, in bytes.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// The most bytes all files together may hold.
pub const MAX_TOTAL_BYTES: usize = 8 << 20;
/// The longest crate key.
const MAX_KEY_LEN: usize = 48;

/// Temporary files are written beside their destination and renamed over it, so a reader (cargo,
/// another build) never sees half a file; stale-file cleanup leaves them alone.
const TEMP_PREFIX: &str = ".vibe-tmp-";

/// The build workspace rooted at a directory (`<data_dir>/build`).
#[derive(Clone, Debug)]
pub struct Workspace {
    root: PathBuf,
}

/// An app's crate in the workspace, ready for cargo.
#[derive(Clone, Debug)]
pub struct AppCrate {
    /// The crate's directory (`apps/<name>`).
    pub dir: PathBuf,
    /// The package name (`app-<crate key>`).
    pub package: String,
    /// The library's name, which names the built component (`<lib_name>.wasm`).
    pub lib_name: String,
}

impl Workspace {
    /// The workspace at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Workspace {
        Workspace { root: root.into() }
    }

    /// The workspace's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Target directory `slot` (0: `target/`, n: `target-n/`), one per build running at once.
    pub fn target_dir(&self, slot: usize) -> PathBuf {
        match slot {
            0 => self.root.join("target"),
            slot => self.root.join(format!("target-{slot}")),
        }
    }

    /// Writes the SDK's sources, the WIT and the SDK's workspace manifest where they are missing or
    /// differ from the ones this binary carries, and removes files an older binary left there.
    /// Unchanged files are not touched, so cargo sees the SDK as fresh.
    pub fn write_sdk(&self) -> io::Result<()> {
        let mut keep = HashSet::new();
        for (path, contents) in SDK_SOURCES {
            let destination = self.root.join(path);
            match *path {
                // Only read: each app crate gets a copy.
                "sdk/Cargo.lock" => continue,
                "sdk/Cargo.toml" => {
                    write_if_changed(&destination, sdk_workspace_manifest(contents)?.as_bytes())?
                }
                _ => write_if_changed(&destination, contents)?,
            }
            keep.insert(destination);
        }
        remove_stale(&self.root.join("sdk/vibe-app-sdk"), &keep)?;
        remove_stale(&self.root.join("wit"), &keep)?;
        Ok(())
    }

    /// Writes app `crate_key`'s crate: the platform's manifest, the SDK's lock file and `app`'s
    /// files, and removes every other file of an earlier build of that crate. Call
    /// [`check_app`] first.
    pub fn write_app(&self, crate_key: &str, app: &GeneratedApp) -> io::Result<AppCrate> {
        let package = package_name(crate_key);
        let dir = self.root.join("apps").join(&package);
        let mut keep = HashSet::new();
        let manifest = dir.join("Cargo.toml");
        write_if_changed(&manifest, app_manifest(&package).as_bytes())?;
        keep.insert(manifest);
        // The SDK's lock file, each time: cargo adds the app's own entry to it, and the versions it
        // pins are exactly the ones the offline cache holds (an older app's lock could pin others).
        let lock = dir.join("Cargo.lock");
        write_if_changed(&lock, sdk_file("sdk/Cargo.lock"))?;
        keep.insert(lock);
        for (path, contents) in &app.files {
            let destination = dir.join(path);
            write_if_changed(&destination, contents.as_bytes())?;
            keep.insert(destination);
        }
        remove_stale(&dir, &keep)?;
        let lib_name = package.replace('-', "_");
        Ok(AppCrate { dir, package, lib_name })
    }
}

/// Why `crate_key` and `app`'s files cannot be built, if they cannot: a key that cannot name a
/// crate, a path outside `src/**.rs` and `migrations/*.sql`, no `src/lib.rs`, too many or too
/// large files.
pub fn check_app(crate_key: &str, app: &GeneratedApp) -> Result<(), String> {
    let key_ok = !crate_key.is_empty()
        && crate_key.len() <= MAX_KEY_LEN
        && crate_key.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && crate_key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !key_ok {
        return Err(format!(
            "the crate key {crate_key:?} must be 1 to {MAX_KEY_LEN} lowercase letters, digits, '-' or '_'"
        ));
    }
    if app.files.len() > MAX_FILES {
        return Err(format!("{} files, more than the {MAX_FILES} allowed", app.files.len()));
    }
    let mut total = 0;
    for (path, contents) in &app.files {
        check_path(path)?;
        if contents.len() > MAX_FILE_BYTES {
            return Err(format!(
                "{path} has {} bytes, more than the {MAX_FILE_BYTES} allowed",
                contents.len()
            ));
        }
        total += contents.len();
    }
    if total > MAX_TOTAL_BYTES {
        return Err(format!("the files hold {total} bytes, more than the {MAX_TOTAL_BYTES} allowed"));
    }
    if !app.files.contains_key("src/lib.rs") {
        return Err("there is no src/lib.rs".to_owned());
    }
    Ok(())
}

/// A relative path of plain names, either `src/…/name.rs` or `migrations/name.sql`.
fn check_path(path: &str) -> Result<(), String> {
    let refuse =
        |why: &str| Err(format!("{path:?}: {why}; only src/**.rs and migrations/*.sql may be written"));
    let parts: Vec<&str> = path.split('/').collect();
    let plain = |part: &&str| {
        !part.is_empty()
            && !part.starts_with('.')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    };
    // Leading '/', "..", "." and empty segments all fail `plain`.
    if !parts.iter().all(plain) {
        return refuse("not a relative path of plain names");
    }
    let name = parts[parts.len() - 1];
    match parts[0] {
        "src" if parts.len() >= 2 && parts.len() <= 8 && name.ends_with(".rs") => Ok(()),
        "migrations" if parts.len() == 2 && name.ends_with(".sql") => Ok(()),
        _ => refuse("outside the allowed files"),
    }
}

/// The package a crate key builds as. `-` and `_` are the same to cargo's output names, so a key
/// uses `-` throughout (and `a_b` and `a-b` share one crate directory).
fn package_name(crate_key: &str) -> String {
    format!("app-{}", crate_key.replace('_', "-"))
}

/// The platform's manifest for an app crate.
fn app_manifest(package: &str) -> String {
    format!(
        r#"# Written by Vibe for every build: the generated code supplies only src/ and migrations/.
[package]
name = "{package}"
version = "0.1.0"
edition = "2024"
publish = false
# No build script and no targets but the library, whatever files are there.
build = false
autobins = false
autoexamples = false
autotests = false
autobenches = false

[lib]
path = "src/lib.rs"
crate-type = ["cdylib"]

[dependencies]
vibe-app-sdk = {{ path = "../../sdk/vibe-app-sdk" }}
serde = {{ version = "1", features = ["derive"] }}

# A workspace of its own: another app's crate never takes part in this one's build.
[workspace]

# The same for every app, so the SDK compiled once serves them all.
[profile.release]
opt-level = "s"
debug = false
strip = "debuginfo"
"#
    )
}

/// An embedded file's contents.
fn sdk_file(path: &str) -> &'static [u8] {
    SDK_SOURCES
        .iter()
        .find(|(embedded, _)| *embedded == path)
        .map(|(_, contents)| *contents)
        .unwrap_or_else(|| panic!("host/build.rs embeds {path}"))
}

/// The SDK workspace's manifest with the SDK as its only member (the repository's also lists the
/// agent SDK and the examples, which the build workspace does not have); its shared package
/// fields, dependencies and lints are what the SDK's manifest inherits.
fn sdk_workspace_manifest(embedded: &[u8]) -> io::Result<String> {
    let invalid = |error: String| io::Error::new(io::ErrorKind::InvalidData, error);
    let text = std::str::from_utf8(embedded).map_err(|error| invalid(error.to_string()))?;
    let mut manifest: toml::Table =
        text.parse().map_err(|error: toml::de::Error| invalid(error.to_string()))?;
    let workspace = manifest
        .get_mut("workspace")
        .and_then(toml::Value::as_table_mut)
        .ok_or_else(|| invalid("sdk/Cargo.toml has no [workspace]".to_owned()))?;
    workspace.insert("members".to_owned(), toml::Value::Array(vec!["vibe-app-sdk".into()]));
    workspace.remove("default-members");
    workspace.remove("exclude");
    let text = toml::to_string(&manifest).map_err(|error| invalid(error.to_string()))?;
    Ok(format!("# Written by Vibe from the SDK's workspace manifest.\n{text}"))
}

/// Writes `contents` to `path` unless it already holds exactly that (keeping its modification
/// time, which cargo's freshness checks read), creating the parent directories.
fn write_if_changed(path: &Path, contents: &[u8]) -> io::Result<()> {
    match std::fs::read(path) {
        Ok(existing) if existing == contents => return Ok(()),
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let parent = path.parent().expect("workspace paths have a parent");
    std::fs::create_dir_all(parent)?;
    let temp = parent.join(format!(
        "{TEMP_PREFIX}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&temp, contents)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// Removes every file under `dir` not in `keep` (and the directories this empties), except
/// another writer's temporary files.
fn remove_stale(dir: &Path, keep: &HashSet<PathBuf>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            remove_stale(&path, keep)?;
            // Only succeeds when empty, which is what we want.
            let _ = std::fs::remove_dir(&path);
        } else if !keep.contains(&path) && !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(paths: &[&str]) -> GeneratedApp {
        let mut files: std::collections::BTreeMap<String, String> =
            paths.iter().map(|path| ((*path).to_owned(), String::new())).collect();
        files.entry("src/lib.rs".to_owned()).or_default();
        GeneratedApp { files }
    }

    #[test]
    fn only_sources_and_migrations_may_be_written() {
        let allowed = ["src/lib.rs", "src/pages/list.rs", "migrations/0001_initial.sql"];
        assert_eq!(check_app("books", &app(&allowed)), Ok(()));
        for path in [
            "build.rs",
            "Cargo.toml",
            ".cargo/config.toml",
            "src/../build.rs",
            "src/./lib2.rs",
            "/etc/passwd",
            "src//lib2.rs",
            "src/lib.txt",
            "src\\lib2.rs",
            "src/.hidden.rs",
            "migrations/nested/0002.sql",
            "migrations/0002.rs",
        ] {
            assert!(check_app("books", &app(&[path])).is_err(), "{path} was allowed");
        }
    }

    #[test]
    fn keys_sizes_and_counts_are_bounded() {
        let long = "a".repeat(MAX_KEY_LEN + 1);
        for key in ["", "Books", "../x", "-x", long.as_str()] {
            assert!(check_app(key, &app(&[])).is_err(), "{key:?} was allowed");
        }
        let many: Vec<String> = (0..MAX_FILES).map(|n| format!("src/m{n}.rs")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(check_app("books", &app(&many)).is_err());
        let mut big = app(&[]);
        big.files.insert("src/big.rs".to_owned(), "x".repeat(MAX_FILE_BYTES + 1));
        assert!(check_app("books", &big).is_err());
        let no_lib = GeneratedApp { files: [("src/main.rs".to_owned(), String::new())].into() };
        assert!(check_app("books", &no_lib).is_err());
    }

    #[test]
    fn the_sdk_workspace_has_the_sdk_as_its_only_member() {
        let manifest =
            sdk_workspace_manifest(sdk_file("sdk/Cargo.toml")).expect("the embedded manifest parses");
        let manifest: toml::Table = manifest.parse().expect("what we write parses");
        let workspace = manifest["workspace"].as_table().expect("a workspace");
        assert_eq!(workspace["members"], toml::Value::Array(vec!["vibe-app-sdk".into()]));
        assert!(workspace.contains_key("dependencies"), "the SDK inherits its dependencies");
        assert!(SDK_SOURCES.iter().any(|(path, _)| *path == "sdk/vibe-app-sdk/src/lib.rs"));
        assert!(SDK_SOURCES.iter().any(|(path, _)| path.starts_with("wit/app@0.1.0/")));
    }

    #[test]
    fn rewriting_an_app_removes_files_of_the_earlier_build() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let workspace = Workspace::new(dir.path());
        let first = app(&["src/old.rs", "migrations/0001_initial.sql"]);
        let crate_dir = workspace.write_app("books_app", &first).expect("written").dir;
        assert!(crate_dir.join("src/old.rs").exists());
        let second = app(&["src/pages/new.rs"]);
        let written = workspace.write_app("books-app", &second).expect("written");
        assert_eq!(written.dir, crate_dir, "'_' and '-' name the same crate");
        assert_eq!(written.lib_name, "app_books_app");
        assert!(!crate_dir.join("src/old.rs").exists());
        assert!(!crate_dir.join("migrations").exists());
        assert!(crate_dir.join("src/pages/new.rs").exists());
        assert!(crate_dir.join("Cargo.toml").exists() && crate_dir.join("Cargo.lock").exists());
    }
}
