import subprocess, sys
def head(p): return subprocess.run(['git','show','HEAD:'+p],capture_output=True,text=True,check=True,cwd='/work/main').stdout
def rep(s,old,new,p):
    assert old in s, (p, old[:60]); return s.replace(old,new,1)
out={}
p='host/Cargo.toml'; s=head(p)
s=rep(s,'axum.workspace = true\n','# multipart: app versions are uploaded as a component with its migrations and configuration.\naxum = { workspace = true, features = ["multipart"] }\n',p); out[p]=s
p='host/src/lib.rs'; s=head(p)
s=rep(s,"pub mod api;\n","pub mod api;\npub mod apps;\n",p); out[p]=s
p='host/src/api/mod.rs'; s=head(p)
s=rep(s,"pub mod access;\n","pub mod access;\npub mod app_observe;\npub mod app_versions;\n",p)
s=rep(s,"        .merge(apps::routes())\n","        .merge(apps::routes())\n        .merge(app_versions::routes())\n        .merge(app_observe::routes())\n",p)
s=rep(s,"""        .merge(ops::routes())
        .fallback(""","""        .merge(ops::routes())
        .merge(crate::apps::routing::routes())
        .fallback(""",p)
s=rep(s,"""        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
""","""        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Requests for `{slug}.{apps domain}` go to the app before any platform route is considered.
        .layer(middleware::from_fn_with_state(state.clone(), crate::apps::routing::by_host))
""",p); out[p]=s
cur=open('/work/main/host/src/config.rs').read()
start=cur.index("#[derive(Debug, Subcommand)]\npub enum AppCommand {"); end=cur.index("\n}\n",start)+3
appcmd=cur[start:end]
p='host/src/config.rs'; s=head(p)
s=rep(s,"""    User(UserCommand),
}
""","""    User(UserCommand),
    /// Deploy and manage apps.
    #[command(subcommand)]
    App(AppCommand),
}

"""+appcmd,p)
s=rep(s,"""    pub auth_rate_per_minute: u32,
}""","""    pub auth_rate_per_minute: u32,
    /// The data directory (app components and precompiled code live under it); `vibe serve` sets it
    /// from `--data-dir`.
    #[arg(skip)]
    pub data_dir: PathBuf,
}""",p)
s=rep(s,"""            auth_rate_per_minute: 10,
        }""","""            auth_rate_per_minute: 10,
            // Components are content-addressed, so test servers can share one directory safely.
            data_dir: std::env::temp_dir().join("vibe-test-data"),
        }""",p); out[p]=s
p='host/src/main.rs'; s=head(p)
s=rep(s,"""        Command::User(command) => {""","""        Command::App(command) => {
            let database = Database::open(&cli.base).await?;
            db::migrate(&database.pool).await?;
            let result = vibe_host::apps::cli::run(&database.pool, &cli.base, command).await;
            database.close().await?;
            result
        }
        Command::User(command) => {""",p); out[p]=s
p='host/src/state.rs'; s=head(p)
s=rep(s,"use crate::auth::TokenKeys;","use crate::apps::{AppsService, AppsSettings};\nuse crate::auth::TokenKeys;",p)
s=rep(s,"""    pub rate_limits: Arc<AuthRateLimits>,
}""","""    pub rate_limits: Arc<AuthRateLimits>,
    /// The live apps and their lifecycle.
    pub apps: AppsService,
}""",p)
s=rep(s,"""        let rate_limits = Arc::new(AuthRateLimits::new(config.auth_rate_per_minute));""","""        let rate_limits = Arc::new(AuthRateLimits::new(config.auth_rate_per_minute));
        let apps = AppsService::start(db.clone(), events.clone(), AppsSettings::from_config(&config));""",p)
s=rep(s,"""            rate_limits,
        })""","""            rate_limits,
            apps,
        })""",p); out[p]=s
for p in ['host/src/serve.rs','host/src/api/apps.rs','tests/api/openapi.rs']:
    # Only my edits in these files (checked by diff before staging).
    out[p]=open('/work/main/'+p).read()
p='tests/api/main.rs'; s=head(p)
s=rep(s,"mod apps;\n","mod app_hosting;\nmod apps;\n",p); out[p]=s
p='tests/components/Cargo.toml'; s=head(p)
s=rep(s,'    "probe",\n','    "probe",\n    "sql-console",\n',p); out[p]=s
import os
for p,s in out.items():
    dst='/tmp/stage/files/'+p; os.makedirs(os.path.dirname(dst),exist_ok=True); open(dst,'w').write(s)
print("ok", len(out))
