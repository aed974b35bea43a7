//! Every app's code in a git repository of its own, with the real `git`: one commit per version,
//! each version's tree exactly its files, each version downloadable as a tarball.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use uuid::Uuid;
use vibe_host::build::repo::Repos;

fn files(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries.iter().map(|(path, text)| ((*path).to_owned(), (*text).to_owned())).collect()
}

/// The paths in a `.tar.gz` (files only), and the text of each, read back with `tar`.
fn unpack(tarball: &[u8], into: &Path) -> BTreeMap<String, String> {
    let archive = into.join("source.tar.gz");
    std::fs::write(&archive, tarball).unwrap();
    let out = into.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let status = Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(&out).status().unwrap();
    assert!(status.success(), "the tarball unpacks");
    let mut found = BTreeMap::new();
    let mut pending = vec![out.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path.strip_prefix(&out).unwrap().to_str().unwrap().to_owned();
                found.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    std::fs::remove_dir_all(&out).unwrap();
    found
}

#[tokio::test]
async fn each_version_is_a_commit_whose_tarball_holds_exactly_its_files() {
    let root = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let repos = Repos::new(root.path().join("repos"));
    let app = Uuid::new_v4();
    let first = files(&[
        ("src/lib.rs", "pub fn app() {}\n"),
        ("src/books.rs", "// books\n"),
        ("migrations/0001_initial.sql", "CREATE TABLE books (id bigint);\n"),
    ]);
    let v1 = repos.commit_version(app, 1, &first, "Version 1: books").await.unwrap();
    assert_eq!(v1.len(), 40, "{v1}");
    let second = files(&[
        ("src/lib.rs", "pub fn app() { /* v2 */ }\n"),
        ("migrations/0001_initial.sql", "CREATE TABLE books (id bigint);\n"),
        ("migrations/0002_isbn.sql", "ALTER TABLE books ADD COLUMN isbn text;\n"),
    ]);
    let v2 = repos.commit_version(app, 2, &second, "Version 2: isbn").await.unwrap();
    assert_ne!(v1, v2);

    let versions = repos.versions(app).await.unwrap();
    let listed: Vec<(i32, &str)> = versions.iter().map(|v| (v.number, v.commit.as_str())).collect();
    assert_eq!(listed, [(1, v1.as_str()), (2, v2.as_str())]);

    let prefixed = |prefix: &str, set: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        set.iter().map(|(path, text)| (format!("{prefix}/{path}"), text.clone())).collect()
    };
    let one = unpack(&repos.tarball(app, Some(1)).await.unwrap(), scratch.path());
    assert_eq!(one, prefixed(&format!("{app}-v1"), &first));
    let two = unpack(&repos.tarball(app, Some(2)).await.unwrap(), scratch.path());
    assert_eq!(two, prefixed(&format!("{app}-v2"), &second), "src/books.rs is gone in version 2");
    let latest = unpack(&repos.tarball_named(app, None, "book-club").await.unwrap(), scratch.path());
    assert_eq!(latest, prefixed("book-club-v2", &second));

    // The history: version 2's commit has version 1's as its parent, with the given message.
    let git_dir = repos.path(app);
    let log = Command::new("git")
        .arg("--git-dir")
        .arg(&git_dir)
        .args(["log", "--format=%H %P %an <%ae> %s", "main"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    let log = String::from_utf8(log.stdout).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            format!("{v2} {v1} Vibe <builds@vibe.invalid> Version 2: isbn"),
            format!("{v1}  Vibe <builds@vibe.invalid> Version 1: books"),
        ]
    );
    assert!(!git_dir.join("hooks").exists(), "no sample hooks are installed");
}

#[tokio::test]
async fn a_version_is_written_once() {
    let root = tempfile::tempdir().unwrap();
    let repos = Repos::new(root.path().to_path_buf());
    let app = Uuid::new_v4();
    let first = files(&[("src/lib.rs", "one\n")]);
    let v1 = repos.commit_version(app, 1, &first, "v1").await.unwrap();
    // A retried build commits the same files again: the same commit comes back.
    assert_eq!(repos.commit_version(app, 1, &first, "v1 again").await.unwrap(), v1);
    let other = files(&[("src/lib.rs", "other\n")]);
    let error = repos.commit_version(app, 1, &other, "v1 changed").await.unwrap_err();
    assert!(format!("{error:#}").contains("version 1 is already in the app's repository"), "{error:#}");
    assert_eq!(repos.versions(app).await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_reason() {
    let root = tempfile::tempdir().unwrap();
    let repos = Repos::new(root.path().to_path_buf());
    let app = Uuid::new_v4();
    let error = repos.tarball(app, None).await.unwrap_err();
    assert!(format!("{error:#}").contains("no code repository yet"), "{error:#}");

    repos.commit_version(app, 1, &files(&[("src/lib.rs", "x\n")]), "v1").await.unwrap();
    let error = repos.tarball(app, Some(7)).await.unwrap_err();
    assert!(format!("{error:#}").contains("the app has no version 7"), "{error:#}");
    let error = repos.tarball_named(app, Some(1), "../etc").await.unwrap_err();
    assert!(format!("{error:#}").contains("cannot name a tarball's folder"), "{error:#}");
    let error = repos.commit_version(app, 2, &files(&[("../escape.rs", "x")]), "v2").await.unwrap_err();
    assert!(format!("{error:#}").contains("not a relative path"), "{error:#}");
    let error = repos.commit_version(app, 0, &files(&[("src/lib.rs", "x")]), "v0").await.unwrap_err();
    assert!(format!("{error:#}").contains("start at 1"), "{error:#}");

    let without_git = Repos::with_git(root.path().to_path_buf(), "/nonexistent/git".into());
    let error = without_git.commit_version(Uuid::new_v4(), 1, &files(&[("a", "b")]), "v1").await.unwrap_err();
    assert!(
        format!("{error:#}").contains("the `git` command (/nonexistent/git) is not installed"),
        "{error:#}"
    );
}

#[tokio::test]
async fn concurrent_commits_of_one_app_take_turns() {
    let root = tempfile::tempdir().unwrap();
    let repos = Repos::new(root.path().to_path_buf());
    let app = Uuid::new_v4();
    let sets: Vec<BTreeMap<String, String>> =
        (1..=6).map(|n| files(&[("src/lib.rs", &format!("version {n}\n"))])).collect();
    let commits = futures::future::join_all(
        sets.iter().enumerate().map(|(i, set)| repos.commit_version(app, i as i32 + 1, set, "concurrent")),
    )
    .await;
    let commits: Vec<String> = commits.into_iter().map(|commit| commit.unwrap()).collect();
    let versions = repos.versions(app).await.unwrap();
    assert_eq!(versions.iter().map(|v| v.number).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    for version in &versions {
        assert_eq!(version.commit, commits[version.number as usize - 1]);
    }
    let scratch = tempfile::tempdir().unwrap();
    let four = unpack(&repos.tarball(app, Some(4)).await.unwrap(), scratch.path());
    assert_eq!(four.get(&format!("{app}-v4/src/lib.rs")).map(String::as_str), Some("version 4\n"));
}
