//! The load generator: `connections` HTTP/1.1 keep-alive connections over loopback, each sending
//! `GET path` and reading the whole response before the next, until a deadline or a request budget
//! runs out. Raw tokio TCP and a minimal response parser (content-length and chunked bodies), so the
//! client spends as little of the shared cores as possible. Every answer must be a 200 whose body
//! starts with `hello from`; anything else counts as an error.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

/// How hard and how long to push one target.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Concurrent connections, each with one request in flight.
    pub connections: usize,
    /// How long to send requests for.
    pub duration: Duration,
    /// At most this many requests in all, whatever the duration.
    pub max_requests: u64,
}

/// What one run of the load measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Requests answered with a 200 and the hello body.
    pub ok: u64,
    /// Requests that failed: another status, another body, an I/O error or a timeout.
    pub errors: u64,
    /// From the first request sent to the last answer read.
    pub elapsed: Duration,
    /// Latency of each successful request, from writing it to having read its whole answer.
    pub latencies: Vec<Duration>,
}

impl Outcome {
    /// Successful requests per second.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// Adds `other`'s requests to this one's (elapsed times add up: the runs were sequential).
    pub fn absorb(&mut self, other: Outcome) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
    }
}

/// The `p` quantile (0..=1) of `sorted`, zero when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// One answer, as far as the generator cares.
struct Answer {
    status: u16,
    hello: bool,
    close: bool,
}

/// No single exchange may take longer than this (a stuck target then counts errors, not forever).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `load` against `addr`, asking for `path`; the latencies come back sorted.
pub async fn run(addr: SocketAddr, path: &str, load: Load) -> Outcome {
    let request: Arc<[u8]> =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: serve-compare\r\n\r\n")
            .into_bytes()
            .into();
    let budget = Arc::new(AtomicU64::new(load.max_requests));
    let started = Instant::now();
    let deadline = started + load.duration;
    let tasks: Vec<_> = (0..load.connections.max(1))
        .map(|_| tokio::spawn(connection(addr, request.clone(), deadline, budget.clone())))
        .collect();
    let mut outcome = Outcome::default();
    for task in tasks {
        match task.await {
            Ok(part) => outcome.absorb(part),
            Err(_) => outcome.errors += 1,
        }
    }
    outcome.elapsed = started.elapsed();
    outcome.latencies.sort_unstable();
    outcome
}

/// One request to `addr`: the status, if an answer came within the exchange timeout.
pub async fn probe(addr: SocketAddr, path: &str) -> Option<u16> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let stream = timeout(EXCHANGE_TIMEOUT, TcpStream::connect(addr)).await.ok()?.ok()?;
    let mut stream = BufReader::new(stream);
    let answer = timeout(EXCHANGE_TIMEOUT, exchange(&mut stream, request.as_bytes())).await.ok()?.ok()?;
    Some(answer.status)
}

async fn connection(
    addr: SocketAddr,
    request: Arc<[u8]>,
    deadline: Instant,
    budget: Arc<AtomicU64>,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut stream: Option<BufReader<TcpStream>> = None;
    while Instant::now() < deadline && take_one(&budget) {
        if stream.is_none() {
            match TcpStream::connect(addr).await {
                Ok(connected) => {
                    let _ = connected.set_nodelay(true);
                    stream = Some(BufReader::new(connected));
                }
                Err(_) => {
                    outcome.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(open) = stream.as_mut() else { continue };
        let sent = Instant::now();
        match timeout(EXCHANGE_TIMEOUT, exchange(open, &request)).await {
            Ok(Ok(answer)) => {
                if answer.status == 200 && answer.hello {
                    outcome.ok += 1;
                    outcome.latencies.push(sent.elapsed());
                } else {
                    outcome.errors += 1;
                }
                if answer.close {
                    stream = None;
                }
            }
            Ok(Err(_)) | Err(_) => {
                outcome.errors += 1;
                stream = None;
            }
        }
    }
    outcome
}

fn take_one(budget: &AtomicU64) -> bool {
    budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(1)).is_ok()
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Writes `request` and reads one whole answer.
async fn exchange(stream: &mut BufReader<TcpStream>, request: &[u8]) -> std::io::Result<Answer> {
    stream.get_mut().write_all(request).await?;
    let mut line = Vec::with_capacity(128);
    read_line(stream, &mut line).await?;
    let status = std::str::from_utf8(&line)
        .ok()
        .and_then(|text| text.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let (mut length, mut chunked, mut close) = (0usize, false, false);
    loop {
        read_line(stream, &mut line).await?;
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
        let Some((name, value)) = text.split_once(':') else { continue };
        match (name.trim(), value.trim()) {
            ("content-length", value) => length = value.parse().map_err(|_| invalid("content-length"))?,
            ("transfer-encoding", value) => chunked = value.contains("chunked"),
            ("connection", value) => close = value.contains("close"),
            _ => {}
        }
    }
    let mut body = Vec::with_capacity(64);
    if chunked {
        loop {
            read_line(stream, &mut line).await?;
            let size = std::str::from_utf8(&line)
                .ok()
                .and_then(|text| usize::from_str_radix(text.split(';').next().unwrap_or("").trim(), 16).ok())
                .ok_or_else(|| invalid("chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    read_line(stream, &mut line).await?;
                    if line.is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            stream.read_exact(&mut body[start..]).await?;
            read_line(stream, &mut line).await?;
        }
    } else {
        body.resize(length, 0);
        stream.read_exact(&mut body).await?;
    }
    Ok(Answer { status, hello: body.starts_with(b"hello from"), close })
}

/// Reads one line into `line`, without its CRLF; fails at the end of the stream.
async fn read_line(stream: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> std::io::Result<()> {
    line.clear();
    if stream.read_until(b'\n', line).await? == 0 {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
    }
    while line.last().is_some_and(|byte| *byte == b'\n' || *byte == b'\r') {
        line.pop();
    }
    Ok(())
}
