//! Builds every crate of the `tests/components` workspace for `wasm32-wasip2` (each one becomes a
//! component) and writes `components.rs`: one `pub const NAME: &str = "/path/name.wasm";` each.
//!
//! The guests have their own workspace, lock file and target directory (`components/` beside the
//! profile directories of the outer target directory), so they never mix with the host's build and
//! are rebuilt only when their sources or the WIT change. The lock file is used as is (`--locked`),
//! so a clean clone with a warm registry cache builds offline.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let root = manifest_dir.join("../..");
    let components = root.join("tests/components");
    let wit = root.join("wit");
    println!("cargo:rerun-if-changed={}", components.display());
    println!("cargo:rerun-if-changed={}", wit.display());

    let target_dir = guest_target_dir(&out_dir);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&components)
        .args(["build", "--release", "--locked", "--workspace", "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer build's flags, target directory and wrappers (clippy's, when the outer
        // command is `cargo clippy`) are for the host crates, not for the guests.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("failed to start cargo for the guest components");
    assert!(
        status.success(),
        "building tests/components for wasm32-wasip2 failed ({status}); \
         is the target installed (`rustup target add wasm32-wasip2`)?"
    );

    let release = target_dir.join("wasm32-wasip2/release");
    let mut found: Vec<(String, PathBuf)> = fs::read_dir(&release)
        .expect("the guest build wrote its release directory")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .filter_map(|path| {
            let stem = path.file_stem()?.to_str()?.to_owned();
            Some((stem.replace('-', "_").to_uppercase(), path))
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no component in {}", release.display());

    let mut constants = String::new();
    for (name, path) in found {
        let path = path.canonicalize().expect("the component exists");
        constants.push_str(&format!(
            "/// `{}`, built from `tests/components`.\npub const {name}: &str = {:?};\n",
            path.display(),
            path.display().to_string()
        ));
    }
    fs::write(out_dir.join("components.rs"), constants).expect("OUT_DIR is writable");
}

/// `<outer target dir>/components`, found from `OUT_DIR` (`<target>/<profile>/build/<pkg>/out`);
/// `OUT_DIR` itself if its layout is unexpected.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(|build| build.parent()?.parent())
        .map(|target| target.join("components"))
        .unwrap_or_else(|| out_dir.join("components"))
}
