//! Builds every crate of the `tests/components` workspace for `wasm32-wasip2` (each one becomes a
//! component) and writes `components.rs`: one `pub const NAME: &str = "/path/name.wasm";` each.
//!
//! The guests have their own workspace, lock file and target directory (`components/` beside the
//! profile directories of the outer target directory), so they never mix with the host's build and
//! are rebuilt only when their sources or the WIT change. The lock file is used as is (`--locked`),
//! so a clean clone with a warm registry cache builds offline.
//!
//! The `sdk` workspace's example apps are built the same way (`sdk_examples`), each named
//! `SDK_EXAMPLE_<NAME>`.

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
    // The agent test plugins are written on the agent SDK.
    println!("cargo:rerun-if-changed={}", root.join("sdk/vibe-agent-sdk").display());

    let target_dir = guest_target_dir(&out_dir);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&components)
        .args(["build", "--release", "--locked", "--workspace", "--target", "wasm32-wasip2"])
        // An Extism plugin is a core module: built below, for its own target.
        .args(["--exclude", "agent-extism"])
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
    constants.push_str(&extism_plugin(&components, &target_dir));
    constants.push_str(&sdk_examples(&root, &out_dir));
    fs::write(out_dir.join("components.rs"), constants).expect("OUT_DIR is writable");
}

/// Builds the `sdk` workspace (the app SDK and its example apps) the same way, into
/// `<outer target dir>/sdk-components`, and returns one `SDK_EXAMPLE_<NAME>` constant per
/// `sdk/examples/<name>`.
fn sdk_examples(root: &Path, out_dir: &Path) -> String {
    let sdk = root.join("sdk");
    for watched in ["Cargo.toml", "Cargo.lock", "vibe-app-sdk", "examples"] {
        // Not `sdk/` itself: a local build's `sdk/target` would rerun this script every time.
        println!("cargo:rerun-if-changed={}", sdk.join(watched).display());
    }
    let target_dir = guest_target_dir(out_dir).with_file_name("sdk-components");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&sdk)
        .args(["build", "--release", "--locked", "--workspace", "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("failed to start cargo for the sdk workspace");
    assert!(status.success(), "building sdk/ for wasm32-wasip2 failed ({status})");

    let release = target_dir.join("wasm32-wasip2/release");
    let mut names: Vec<String> = fs::read_dir(sdk.join("examples"))
        .expect("sdk/examples exists")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut constants = String::new();
    for name in names {
        let file = name.replace('-', "_");
        let path = release.join(format!("{file}.wasm"));
        let path = path.canonicalize().unwrap_or_else(|_| panic!("{} was built", path.display()));
        constants.push_str(&format!(
            "/// `{}`, the example app built from `sdk/examples/{name}`.\npub const SDK_EXAMPLE_{}: &str = {:?};\n",
            path.display(),
            file.to_uppercase(),
            path.display().to_string()
        ));
    }
    constants
}

/// Builds the Extism agent plugin `agent-extism` (extism-pdk, a core module) for
/// `wasm32-unknown-unknown` and returns its `AGENT_EXTISM` constant.
fn extism_plugin(components: &Path, target_dir: &Path) -> String {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(components)
        .args(["build", "--release", "--locked", "-p", "agent-extism", "--target", "wasm32-unknown-unknown"])
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("failed to start cargo for the Extism plugin");
    assert!(
        status.success(),
        "building agent-extism for wasm32-unknown-unknown failed ({status}); \
         is the target installed (`rustup target add wasm32-unknown-unknown`)?"
    );
    let path = target_dir.join("wasm32-unknown-unknown/release/agent_extism.wasm");
    let path = path.canonicalize().unwrap_or_else(|_| panic!("{} was built", path.display()));
    format!(
        "/// `{}`, the Extism agent plugin built from `tests/components/agent-extism`.\npub const AGENT_EXTISM: &str = {:?};\n",
        path.display(),
        path.display().to_string()
    )
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
