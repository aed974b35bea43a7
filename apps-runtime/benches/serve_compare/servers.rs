//! The targets other than `vibe serve`, each its own process so that its CPU time can be read from
//! `/proc` and its threads never share a scheduler with the load generator:
//!
//! - `runtime only`: this bench binary re-run as a hyper HTTP/1.1 server whose every request is
//!   [`LoadedApp::handle`] on the hello component with the default limits (all on), no host around it;
//! - `wasmtime serve -S cli=y` on the same `.wasm`;
//! - `process per request`: this bench binary re-run as a hyper server that spawns a tiny native
//!   Rust program per request (compiled here by `rustc`, optimised, statically linked and
//!   stripped), which prints the same hello body: the floor of what a container per request costs.
//!   It is started the way Rust's `Command` starts processes (`posix_spawn`, a vfork + exec, where
//!   it can; fork + exec otherwise).

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use uuid::Uuid;
use vibe_apps_runtime::{Capabilities, ComponentSource, Limits, Runtime, RuntimeConfig};

/// The flag that turns this binary into one of the servers.
const ROLE_FLAG: &str = "--serve-compare-role";

/// A child process, killed when dropped.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback address (the port is free now; the target binds it right after).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free loopback port")
}

/// CPU time used so far by process `pid` and its reaped children (utime + stime + cutime + cstime),
/// from `/proc/<pid>/stat`, in clock ticks of 10 ms (USER_HZ is 100 on Linux).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: count fields after the last `)`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11..15)?.iter().filter_map(|field| field.parse::<u64>().ok()).sum();
    Some(Duration::from_millis(ticks * 10))
}

/// If this process was started as a server, runs it (never returns); otherwise does nothing.
pub fn run_role_if_asked() {
    let args: Vec<String> = std::env::args().collect();
    let Some(at) = args.iter().position(|arg| arg == ROLE_FLAG) else { return };
    let role = args.get(at + 1).map(String::as_str);
    let addr: SocketAddr = args.get(at + 2).and_then(|addr| addr.parse().ok()).expect("a listen address");
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match role {
        Some("runtime-only") => {
            let component = args.get(at + 3).expect("a component path");
            executor.block_on(serve_runtime_only(addr, component.into()));
        }
        Some("process") => {
            let native = PathBuf::from(args.get(at + 3).expect("a native program"));
            executor.block_on(serve(addr, move |request| {
                let native = native.clone();
                async move { spawn_per_request(&native, request).await }
            }));
        }
        other => panic!("unknown role {other:?}"),
    }
    std::process::exit(0);
}

/// Starts this binary as the server `role` on `addr` (`extra`: the role's one argument).
pub fn spawn_role(role: &str, addr: SocketAddr, extra: &Path) -> ChildGuard {
    let me = std::env::current_exe().expect("the bench's own path");
    let child = Command::new(me)
        .arg(ROLE_FLAG)
        .arg(role)
        .arg(addr.to_string())
        .arg(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("re-running the bench binary as a server");
    ChildGuard(child)
}

/// Starts `wasmtime serve -S cli=y` on `component` at `addr`, its output in `log`.
pub fn spawn_wasmtime(
    wasmtime: &Path,
    component: &str,
    addr: SocketAddr,
    log: &Path,
) -> std::io::Result<ChildGuard> {
    let output = std::fs::File::create(log)?;
    let child = Command::new(wasmtime)
        .args(["serve", "-S", "cli=y", "--addr"])
        .arg(addr.to_string())
        .arg(component)
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output)
        .spawn()?;
    Ok(ChildGuard(child))
}

/// `wasmtime --version`, or why it cannot be run.
pub fn wasmtime_version(wasmtime: &Path) -> Result<String, String> {
    let output = Command::new(wasmtime).arg("--version").output().map_err(|error| error.to_string())?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Compiles the native hello program into `dir` and returns its path.
pub fn build_native_hello(dir: &Path) -> PathBuf {
    let source = dir.join("hello_native.rs");
    let binary = dir.join("hello_native");
    std::fs::write(
        &source,
        "fn main() {\n    let path = std::env::args().nth(1).unwrap_or_else(|| \"/\".to_owned());\n    \
         print!(\"hello from {path}\\n\");\n}\n",
    )
    .expect("writing the native program");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(rustc)
        // Static and stripped: no dynamic loader at exec, the cheapest process start there is.
        .args(["--edition", "2024", "-C", "opt-level=3", "-C", "panic=abort"])
        .args(["-C", "target-feature=+crt-static", "-C", "strip=symbols", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .expect("running rustc");
    assert!(status.success(), "rustc failed on the native hello program");
    binary
}

type Response = http::Response<Full<Bytes>>;

/// Serves HTTP/1.1 on `addr`, answering every request with `handler`.
async fn serve<H, F>(addr: SocketAddr, handler: H)
where
    H: Fn(http::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(addr).await.expect("binding the listen address");
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let answer = handler(request);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn serve_runtime_only(addr: SocketAddr, component: PathBuf) {
    let cache = tempfile::tempdir().expect("temporary directory");
    let runtime = Runtime::new(RuntimeConfig::new(cache.path())).expect("runtime");
    let app = runtime
        .load(
            Uuid::new_v4(),
            None,
            ComponentSource::File(component),
            Limits::default(),
            Capabilities::isolated(),
        )
        .await
        .expect("the hello component loads");
    serve(addr, move |request| {
        let app = app.clone();
        async move { app.handle(request).await }
    })
    .await;
}

async fn spawn_per_request(native: &Path, request: http::Request<Incoming>) -> Response {
    let output = tokio::process::Command::new(native)
        .arg(request.uri().path())
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await;
    let (status, body) = match output {
        Ok(output) if output.status.success() => (200, Bytes::from(output.stdout)),
        Ok(output) => (500, Bytes::from(format!("the program failed: {}\n", output.status))),
        Err(error) => (500, Bytes::from(format!("cannot start the program: {error}\n"))),
    };
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(body))
        .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())))
}
