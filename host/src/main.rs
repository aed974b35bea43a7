//! The `vibe` command: parses the command line and runs the chosen command.

use anyhow::Context;
use clap::Parser;
use vibe_host::auth::{Role, password};
use vibe_host::config::{Cli, Command, UserCommand};
use vibe_host::db::{self, Database};
use vibe_host::error::ApiError;
use vibe_host::{serve, telemetry, users};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.base.log_format);
    match cli.command {
        Command::Serve(config) => serve::run(cli.base, config).await,
        Command::Migrate => {
            let database = Database::open(&cli.base).await?;
            db::migrate(&database.pool).await?;
            println!("migrations applied");
            database.close().await
        }
        Command::App(command) => {
            let database = Database::open(&cli.base).await?;
            db::migrate(&database.pool).await?;
            let result = vibe_host::apps::cli::run(&database.pool, &cli.base, command).await;
            database.close().await?;
            result
        }
        Command::Plugin(command) => vibe_host::agents::registry::cli::run_plugin(&cli.base, command).await,
        Command::Agent(command) => vibe_host::agents::registry::cli::run_agent(&cli.base, command).await,
        Command::Credits(command) => {
            let database = Database::open(&cli.base).await?;
            db::migrate(&database.pool).await?;
            let result = vibe_host::ledger::cli::run(&database.pool, command).await;
            database.close().await?;
            result
        }
        Command::User(command) => {
            let database = Database::open(&cli.base).await?;
            db::migrate(&database.pool).await?;
            let result = user_command(&database, command).await;
            database.close().await?;
            result
        }
    }
}

async fn user_command(database: &Database, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create { email, password, name, operator } => {
            if password.chars().count() < 8 {
                anyhow::bail!("the password must have at least 8 characters");
            }
            let new = users::NewUser {
                email,
                password_hash: Some(password::hash(password).await?),
                name,
                role: if operator { Role::Operator } else { Role::User },
                initial_credits: 0,
            };
            let user = users::create(&database.pool, new).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created {} ({}){}", user.email, user.id, if operator { " as an operator" } else { "" });
        }
        UserCommand::Promote { email } => {
            let user = match users::promote(&database.pool, &email).await {
                Ok(user) => user,
                Err(ApiError::NotFound) => anyhow::bail!("no account with email {email}"),
                Err(err) => return Err(anyhow::anyhow!("{err}")).context("promoting the account"),
            };
            println!("{} is now an operator", user.email);
        }
    }
    Ok(())
}
