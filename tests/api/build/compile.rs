//! A stand-in for the compiler stage in these tests: the generated files in a throw-away cargo
//! workspace under the platform's manifest (only `vibe-app-sdk` and `serde`), built offline for
//! `wasm32-wasip2` with one target directory shared by every run, so a repeat build takes seconds.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use vibe_host::build::codegen::GeneratedApp;

/// The repository's root.
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Where the generated crates and their shared target directory live.
fn root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated-apps")
}

/// Builds `app` in a blocking thread; the component's bytes.
pub async fn build(app: &GeneratedApp) -> Vec<u8> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || build_blocking(&app).0).await.unwrap()
}

/// Builds `app`: the component's bytes and how long cargo took.
pub fn build_blocking(app: &GeneratedApp) -> (Vec<u8>, Duration) {
    let mut hasher = DefaultHasher::new();
    app.files.hash(&mut hasher);
    // One crate name per content: parallel test processes never overwrite each other's output.
    let name = format!("generated_app_{:016x}", hasher.finish());
    let workspace = root().join(&name);
    write_if_changed(
        &workspace.join("Cargo.toml"),
        "[workspace]\nresolver = \"3\"\nmembers = [\"app\"]\n\n[profile.release]\nopt-level = \"s\"\ndebug = false\nstrip = \"debuginfo\"\n",
    );
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n\
         [dependencies]\nvibe-app-sdk = {{ path = \"{REPO}/sdk/vibe-app-sdk\" }}\nserde = {{ version = \"1\", features = [\"derive\"] }}\n"
    );
    write_if_changed(&workspace.join("app/Cargo.toml"), &manifest);
    if !workspace.join("Cargo.lock").exists() {
        std::fs::copy(format!("{REPO}/sdk/Cargo.lock"), workspace.join("Cargo.lock")).unwrap();
    }
    for (path, content) in &app.files {
        write_if_changed(&workspace.join("app").join(path), content);
    }
    let target = root().join("target");
    let started = Instant::now();
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["build", "--offline", "--release", "--target", "wasm32-wasip2", "--message-format", "short"])
        .current_dir(&workspace)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let took = started.elapsed();
    let printed = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the generated crate does not compile:\n{printed}");
    eprintln!("built {name} in {:.1} s", took.as_secs_f64());
    // The generated code is the user's: it compiles clean (cargo replays warnings of cached builds too).
    let warnings: Vec<&str> = printed.lines().filter(|line| line.starts_with("warning")).collect();
    assert!(warnings.is_empty(), "the generated crate has warnings:\n{printed}");
    let wasm = target.join("wasm32-wasip2/release").join(format!("{name}.wasm"));
    (std::fs::read(&wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display())), took)
}

fn write_if_changed(path: &Path, content: &str) {
    if std::fs::read_to_string(path).is_ok_and(|existing| existing == content) {
        return;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}
