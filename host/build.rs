//! Embeds what the build service needs to compile generated apps into the `vibe` binary: the app
//! SDK's sources (`sdk/vibe-app-sdk`), the WIT its bindings are generated from (`wit/`), and the
//! SDK workspace's manifest and lock file (whose exact versions are the ones the offline dependency
//! cache holds). `src/build/workspace.rs` writes them out under the data directory.
//!
//! Writes `sdk_sources.rs`: `SDK_SOURCES`, one `(relative path, bytes)` pair per file, sorted.

use std::path::{Path, PathBuf};
use std::{env, fs};

/// What is embedded, relative to the repository root: directories (walked) and single files.
const TREES: [&str; 2] = ["sdk/vibe-app-sdk", "wit"];
const FILES: [&str; 2] = ["sdk/Cargo.toml", "sdk/Cargo.lock"];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let root = manifest_dir.join("..").canonicalize().expect("the repository root exists");

    let mut files = Vec::new();
    for tree in TREES {
        // A directory: cargo reruns this script when anything under it changes.
        println!("cargo:rerun-if-changed={}", root.join(tree).display());
        collect(&root.join(tree), &mut files);
    }
    for file in FILES {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
        files.push(root.join(file));
    }
    files.sort();

    let mut source = String::from(
        "/// The app SDK's sources, the WIT and the SDK workspace's manifest and lock file: \
         `(path relative to the repository root, contents)`.\n\
         pub static SDK_SOURCES: &[(&str, &[u8])] = &[\n",
    );
    for file in files {
        let relative = file.strip_prefix(&root).expect("collected under the root");
        let relative = relative.to_str().expect("repository paths are UTF-8");
        source.push_str(&format!("    ({relative:?}, include_bytes!({:?})),\n", file.display().to_string()));
    }
    source.push_str("];\n");
    fs::write(out_dir.join("sdk_sources.rs"), source).expect("OUT_DIR is writable");
}

/// Every file under `dir`, skipping build output (`target/`) and hidden entries.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()));
    for entry in entries {
        let entry = entry.expect("a readable directory entry");
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let path = entry.path();
        if entry.file_type().expect("a file type").is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
