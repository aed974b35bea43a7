//! Configuration: one struct per command, built once from flags and `VIBE_*` variables by clap.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The `vibe` command line.
#[derive(Debug, Parser)]
#[command(name = "vibe", version, about = "Vibe: from an idea to a live, hosted app")]
pub struct Cli {
    #[command(flatten)]
    pub base: BaseConfig,
    #[command(subcommand)]
    pub command: Command,
}

/// What every command needs: where the data lives.
#[derive(Debug, Clone, Args)]
pub struct BaseConfig {
    /// PostgreSQL server to use. Unset: Vibe starts its own embedded cluster under the data directory.
    #[arg(long, env = "VIBE_DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where Vibe keeps its secrets, artifacts and (when embedded) its database cluster.
    #[arg(long, env = "VIBE_DATA_DIR", default_value = "./.vibe", global = true)]
    pub data_dir: PathBuf,
    /// Directory holding the PostgreSQL server binaries (initdb, pg_ctl) for the embedded cluster.
    /// Unset: /usr/lib/postgresql/<newest>/bin, then `pg_config --bindir`, then PATH.
    #[arg(long, env = "VIBE_POSTGRES_BIN", global = true)]
    pub postgres_bin: Option<PathBuf>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "VIBE_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API, the web UI and the apps.
    Serve(ServeConfig),
    /// Apply the platform's database migrations and exit.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Deploy and manage apps.
    #[command(subcommand)]
    App(AppCommand),
    /// Make signing keys, publish agent plugins, approve them.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Route agent types to plugin versions (hot swap, experiments, rollback).
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Grant credits (operators).
    #[command(subcommand)]
    Credits(CreditsCommand),
}

/// `vibe credits …` (operators): works on the database.
#[derive(Debug, Subcommand)]
pub enum CreditsCommand {
    /// Grant credits to an account: `vibe credits grant ada@example.com 500 --reason "beta tester"`.
    Grant {
        /// The account's email.
        email: String,
        /// Credits to add.
        amount: i64,
        /// Why, as the user's ledger shows it.
        #[arg(long)]
        reason: Option<String>,
        /// An idempotency key: running the command again with the same key grants once.
        #[arg(long)]
        key: Option<String>,
    },
}

/// `vibe plugin …`: keygen works offline, register-key and publish talk to a running server with your
/// account's token, approve (operators) works on the database.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Make an ed25519 signing key: the secret key file (mode 0600) and `<file>.pub`.
    Keygen {
        /// Where to write the secret key; never overwritten.
        #[arg(long, default_value = "vibe-publisher.key")]
        out: PathBuf,
    },
    /// Register the public half of a signing key to your account.
    RegisterKey {
        /// The secret key file `vibe plugin keygen` wrote.
        #[arg(long, env = "VIBE_PUBLISHER_KEY", default_value = "vibe-publisher.key")]
        key: PathBuf,
        /// A name to tell your keys apart.
        #[arg(long, default_value = "")]
        label: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Sign a plugin with its manifest into a package file, to publish later from anywhere (the operator
    /// console's upload, or any HTTP client's `POST /api/plugins`): the secret key stays on this machine.
    Sign {
        /// The plugin: a vibe:agent component (wasm32-wasip2) or an Extism module.
        component: PathBuf,
        /// Its manifest (JSON): name, version, agent_types, wit, kind, capabilities, publisher...
        #[arg(long)]
        manifest: PathBuf,
        /// The secret key to sign with.
        #[arg(long, env = "VIBE_PUBLISHER_KEY", default_value = "vibe-publisher.key")]
        key: PathBuf,
        /// Where to write the signed package (JSON); never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a plugin with its manifest and publish it.
    Publish {
        /// The plugin: a vibe:agent component (wasm32-wasip2) or an Extism module.
        component: PathBuf,
        /// Its manifest (JSON): name, version, agent_types, wit, kind, capabilities, publisher...
        #[arg(long)]
        manifest: PathBuf,
        /// The secret key to sign with.
        #[arg(long, env = "VIBE_PUBLISHER_KEY", default_value = "vibe-publisher.key")]
        key: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Approve a plugin version's capabilities and limits (operators): it becomes routable.
    Approve {
        /// The plugin's name.
        name: String,
        /// The version to approve.
        version: String,
    },
}

/// A running Vibe server and the token of the account to act as.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The server's address.
    #[arg(long, env = "VIBE_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: url::Url,
    /// A session token of your account: the `token` that `POST /api/auth/login` answers.
    #[arg(long, env = "VIBE_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// `vibe agent …` (operators): works on the database; running servers follow within moments.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Set the routing of an agent type: `vibe agent route ideation echo@1.0.0=90 echo@1.1.0=10`.
    Route {
        /// The agent type.
        agent_type: String,
        /// `<version>=<weight>` pairs; a version is `<plugin>@<semver>` (or the bare semver when only
        /// one plugin serving the type has it).
        #[arg(required = true)]
        weights: Vec<String>,
    },
    /// Restore the routing the one in force replaced.
    Rollback {
        /// The agent type.
        agent_type: String,
    },
    /// Show the routing in force and each version's track record.
    Show {
        /// The agent type.
        agent_type: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create a version of an app from a component and make it live (creating the app if needed).
    Deploy {
        /// The app's component: a wasi:http component built for wasm32-wasip2.
        component: PathBuf,
        /// The app's slug: served at /apps/{name}/ and on {name}.{apps domain}.
        #[arg(long)]
        name: String,
        /// A directory of `*.sql` migrations, applied in file-name order, each once.
        #[arg(long)]
        migrations: Option<PathBuf>,
        /// A JSON file of settings (name → string) the app reads through vibe:app/config.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Email of the account that owns the app, when it does not exist yet.
        #[arg(long)]
        owner: Option<String>,
        /// Domain under which apps are served as {slug}.{domain} (for the address printed).
        #[arg(long, env = "VIBE_APPS_DOMAIN", default_value = "apps.localhost")]
        apps_domain: String,
    },
    /// List every app with its status, live version and owner.
    List,
    /// Make an earlier version of an app live again.
    Rollback {
        /// The app's slug.
        name: String,
        /// The version number to serve.
        version: i32,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account.
    Create {
        #[arg(long)]
        email: String,
        /// The password; read from VIBE_USER_PASSWORD when not given, so it stays out of shell history.
        #[arg(long, env = "VIBE_USER_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Make the account an operator.
        #[arg(long)]
        operator: bool,
    },
    /// Give an existing account the operator role.
    Promote { email: String },
}

/// Settings of the server.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address the HTTP server listens on.
    #[arg(long, env = "VIBE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The address people reach Vibe at, used in links sent by mail and to check `Origin`.
    /// Unset: http://{listen}.
    #[arg(long, env = "VIBE_PUBLIC_URL")]
    pub public_url: Option<url::Url>,
    /// SMTP server for outgoing mail, e.g. smtps://user:pass@mail.example.com. Unset: mail goes to the
    /// outbox table and the log.
    #[arg(long, env = "VIBE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender address of outgoing mail.
    #[arg(long, env = "VIBE_MAIL_FROM", default_value = "Vibe <vibe@localhost>")]
    pub mail_from: String,
    /// Domain under which apps are served as {slug}.{domain}.
    #[arg(long, env = "VIBE_APPS_DOMAIN", default_value = "apps.localhost")]
    pub apps_domain: String,
    /// Seconds without a request after which an app's compiled component is dropped from memory
    /// (the next request loads it again from its precompiled artifact); 0 keeps apps loaded.
    #[arg(long, env = "VIBE_APPS_IDLE_UNLOAD_SECS", default_value_t = 300)]
    pub apps_idle_unload_secs: u64,
    /// Seconds between health checks of built apps (`GET /_health`); 0 turns them off.
    #[arg(long, env = "VIBE_APPS_HEALTH_SECS", default_value_t = 60)]
    pub apps_health_secs: u64,
    /// Credits granted to a new account.
    #[arg(long, env = "VIBE_SIGNUP_CREDITS", default_value_t = 100)]
    pub signup_credits: i64,
    /// How long a login lasts, in hours.
    #[arg(long, env = "VIBE_SESSION_HOURS", default_value_t = 24 * 14)]
    pub session_hours: i64,
    /// Login and magic-link attempts allowed per minute, per account and per client address.
    #[arg(long, env = "VIBE_AUTH_RATE_PER_MINUTE", default_value_t = 10)]
    pub auth_rate_per_minute: u32,
    /// The LLM gateway: providers, fallback, prices, rate limits (`VIBE_ANTHROPIC_*`, `VIBE_OPENAI_*`,
    /// `VIBE_LLM_*`). No provider: guided mode.
    #[command(flatten)]
    pub llm: Box<crate::llm::config::LlmConfig>,
    /// Durable jobs (agent turns) this process runs at once; 0 makes it serve the API only.
    #[arg(long, env = "VIBE_JOB_WORKERS", default_value_t = 2)]
    pub job_workers: usize,
    /// How long a job's lease lasts, in seconds, before another process may take the job over; the
    /// running process renews it every third of that.
    #[arg(long, env = "VIBE_JOB_LEASE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub job_lease_secs: u64,
    /// Credits: reservations, the spike rule, app grace, prices, Stripe (`VIBE_CREDITS_*`, `VIBE_PRICE_*`,
    /// `VIBE_STRIPE_*`, `VIBE_CREDIT_*`).
    #[command(flatten)]
    pub credits: Box<crate::ledger::CreditsConfig>,
    /// The build service's limits: time, memory, builds at once (`VIBE_BUILD_*`).
    #[command(flatten)]
    pub build: crate::build::compiler::BuildConfig,
    /// The data directory (app components and precompiled code live under it); `vibe serve` sets it
    /// from `--data-dir`.
    #[arg(skip)]
    pub data_dir: PathBuf,
    /// The built web UI (`web/dist` of the repository, made by `npm run build` in `web/`), served at `/`.
    #[arg(long, env = "VIBE_WEB_DIR", default_value = "web/dist")]
    pub web_dir: PathBuf,
}

impl ServeConfig {
    /// The public base URL, without a trailing slash.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Whether cookies must carry `Secure` (only when people reach us over https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.as_ref().is_some_and(|u| u.scheme() == "https")
    }

    /// A configuration for tests and tools: defaults everywhere, listening on `listen`.
    pub fn for_listen(listen: SocketAddr) -> Self {
        ServeConfig {
            listen,
            public_url: None,
            smtp_url: None,
            mail_from: "Vibe <vibe@localhost>".into(),
            apps_domain: "apps.localhost".into(),
            apps_idle_unload_secs: 300,
            apps_health_secs: 0,
            signup_credits: 100,
            session_hours: 24 * 14,
            auth_rate_per_minute: 10,
            llm: Box::default(),
            job_workers: 2,
            job_lease_secs: 30,
            credits: Box::default(),
            build: crate::build::compiler::BuildConfig::default(),
            // Components are content-addressed, so test servers can share one directory safely.
            data_dir: std::env::temp_dir().join("vibe-test-data"),
            web_dir: PathBuf::from("web/dist"),
        }
    }
}
