//! The `vibe` command line against the test database: `migrate`, `user create`, `user promote`, `--help`.
//! Each test runs the real binary with `VIBE_DATABASE_URL` pointing at its own fresh database.

use std::process::{Command, Output};

use sqlx::PgPool;

/// `vibe <args>` on the test database `db`, with a clean environment of `VIBE_*` settings.
fn vibe(db: &PgPool, args: &[&str]) -> Command {
    let mut url = url::Url::parse(
        &std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    )
    .expect("DATABASE_URL is a URL");
    let database = db.connect_options().get_database().expect("the test pool names its database").to_owned();
    url.set_path(&database);
    let mut command = Command::new(env!("CARGO_BIN_EXE_vibe"));
    command
        .args(args)
        .env("VIBE_DATABASE_URL", url.as_str())
        .env_remove("VIBE_USER_PASSWORD")
        .env_remove("VIBE_DATA_DIR")
        .env("RUST_LOG", "warn");
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the vibe binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn create_user(db: &PgPool, email: &str) -> Output {
    run(vibe(db, &["user", "create", "--email", email, "--name", "A"])
        .env("VIBE_USER_PASSWORD", "correct horse battery"))
}

#[sqlx::test(migrations = false)]
async fn migrate_creates_the_schema(db: PgPool) {
    let before: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('users')::text").fetch_one(&db).await.unwrap();
    assert_eq!(before, None, "a fresh database has no tables yet");

    let output = run(&mut vibe(&db, &["migrate"]));
    assert!(output.status.success(), "vibe migrate: {}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied"));
    let after: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('users')::text").fetch_one(&db).await.unwrap();
    assert_eq!(after.as_deref(), Some("users"));

    let again = run(&mut vibe(&db, &["migrate"]));
    assert!(again.status.success(), "migrating twice is harmless: {}", stderr(&again));
}

#[sqlx::test(migrations = "../migrations")]
async fn user_create_stores_an_argon2id_hash(db: PgPool) {
    let output = create_user(&db, "a@b.c");
    assert!(output.status.success(), "vibe user create: {}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("created a@b.c"));

    let (name, role, hash): (String, String, Option<String>) =
        sqlx::query_as("SELECT name, role, password_hash FROM users WHERE email = 'a@b.c'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((name.as_str(), role.as_str()), ("A", "user"));
    let hash = hash.expect("a password hash is stored");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"), "the password itself is not stored");
    assert!(vibe_host::auth::password::verify("correct horse battery".into(), hash.clone()).await);
    assert!(!vibe_host::auth::password::verify("wrong password".into(), hash).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn user_create_refuses_a_taken_email(db: PgPool) {
    assert!(create_user(&db, "a@b.c").status.success());
    let output = create_user(&db, "A@B.C");
    assert!(!output.status.success(), "a second account with the same email is refused");
    assert!(stderr(&output).contains("already exists"), "{}", stderr(&output));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(count, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn user_create_needs_a_good_password(db: PgPool) {
    let missing = run(&mut vibe(&db, &["user", "create", "--email", "a@b.c"]));
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("--password"), "{}", stderr(&missing));

    let short = run(vibe(&db, &["user", "create", "--email", "a@b.c"]).env("VIBE_USER_PASSWORD", "short"));
    assert!(!short.status.success());
    assert!(stderr(&short).contains("at least 8 characters"), "{}", stderr(&short));

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(count, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn user_promote_makes_an_operator(db: PgPool) {
    assert!(create_user(&db, "a@b.c").status.success());
    let output = run(&mut vibe(&db, &["user", "promote", "a@b.c"]));
    assert!(output.status.success(), "vibe user promote: {}", stderr(&output));
    let role: String =
        sqlx::query_scalar("SELECT role FROM users WHERE email = 'a@b.c'").fetch_one(&db).await.unwrap();
    assert_eq!(role, "operator");
}

#[sqlx::test(migrations = "../migrations")]
async fn user_promote_of_an_unknown_email_fails_clearly(db: PgPool) {
    assert!(create_user(&db, "a@b.c").status.success());
    let output = run(&mut vibe(&db, &["user", "promote", "nobody@b.c"]));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("no account with email nobody@b.c"), "{}", stderr(&output));
    let operators: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'operator'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(operators, 0);
}

#[test]
fn help_lists_the_commands() {
    let output = Command::new(env!("CARGO_BIN_EXE_vibe")).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "migrate", "user"] {
        assert!(help.lines().any(|line| line.trim_start().starts_with(command)), "{command} in:\n{help}");
    }
}
