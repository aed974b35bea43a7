//! Builds the `plugins` workspace (the first-party agents) for `wasm32-wasip2` and copies each
//! component into `OUT_DIR`, where `src/lib.rs` embeds it.
//!
//! As `apps-runtime/test-components/build.rs` does for the test guests: the plugins have their own
//! workspace, lock file (used as is, `--locked`) and target directory (`plugins-components/`
//! beside the profile directories of the outer target directory), and are rebuilt only when their
//! sources, the agent SDK or the WIT change.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

/// The plugin crates and the file name each component is embedded under.
const PLUGINS: &[(&str, &str)] = &[
    ("vibe_ideation_agent", "ideation.wasm"),
    ("vibe_spec_agent", "spec.wasm"),
    ("vibe_build_agent", "build.wasm"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let plugins = manifest_dir.join("..");
    let root = plugins.join("..");
    // Not `plugins/` itself: a local build's `plugins/target` would rerun this script every time.
    for watched in ["Cargo.toml", "Cargo.lock", "guided", "ideation", "spec", "build"] {
        println!("cargo:rerun-if-changed={}", plugins.join(watched).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("sdk/vibe-agent-sdk").display());
    println!("cargo:rerun-if-changed={}", root.join("wit").display());

    let target_dir = guest_target_dir(&out_dir);
    // The same sources give the same bytes (and so the same digest) in any checkout: paths that
    // end up in panic messages are made independent of where the checkout and the registry are.
    let root = root.canonicalize().unwrap_or(root);
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let mut rustflags = format!("--remap-path-prefix={}=/vibe", root.display());
    if let Some(cargo_home) = cargo_home {
        rustflags.push_str(&format!("\x1f--remap-path-prefix={}=/cargo", cargo_home.display()));
    }
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&plugins)
        .args(["build", "--release", "--locked", "--workspace", "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer build's flags, target directory and wrappers are for the host crates.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("failed to start cargo for the plugins workspace");
    assert!(
        status.success(),
        "building plugins/ for wasm32-wasip2 failed ({status}); \
         is the target installed (`rustup target add wasm32-wasip2`)?"
    );
    let release = target_dir.join("wasm32-wasip2/release");
    for (crate_name, file) in PLUGINS {
        let built = release.join(format!("{crate_name}.wasm"));
        fs::copy(&built, out_dir.join(file)).unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
    }
}

/// `<outer target dir>/plugins-components`, found from `OUT_DIR` (`<target>/<profile>/build/<pkg>/out`);
/// inside `OUT_DIR` if its layout is unexpected.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(|build| build.parent()?.parent())
        .map(|target| target.join("plugins-components"))
        .unwrap_or_else(|| out_dir.join("plugins-components"))
}
