//! One live-events connection: replay what the client missed, then live events, each exactly once;
//! keepalive; and a close frame with a reason whenever the server ends the connection.
//!
//! No gaps, no duplicates: the connection subscribes to the bus *before* it reads the backlog, so an event
//! committed meanwhile is in the subscription, the backlog, or both, and [`Seen`] drops the second copy.
//! Both happen before the handshake is answered ([`Start`]): a client that has its `101` is subscribed, so
//! an event it causes right after reaches it.
//! A subscriber that falls too far behind the bus (a slow client during a burst) is told it lagged; it then
//! reads what it missed from the table, the same way as a reconnecting client.
//!
//! Visibility costs no query per event here: the bus loads each event's audience once per process (see
//! [`super::visibility`]) and every connection of the process only tests membership in it.

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::bus::{LiveEvent, StoredEvent};
use super::visibility::VISIBLE_TO;
use crate::auth::AuthUser;
use crate::auth::extract::user_for_token;
use crate::state::AppState;

/// Most events replayed on connect or after a lag (the most recent ones the client may see).
const BACKLOG_LIMIT: i64 = 500;
/// How far back in the cluster's events a replay looks, so an old `since` cannot make us scan the table.
const BACKLOG_WINDOW: i64 = 10_000;
/// How often the server pings, and re-checks that the login is still valid.
const PING_EVERY: Duration = Duration::from_secs(25);
/// A client that sends nothing (not even a pong) for this long is gone.
const SILENCE_LIMIT: Duration = Duration::from_secs(60);
/// A client that does not take a frame within this long is too slow to keep.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the client's answer to our close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How many sent ids a connection remembers to skip duplicates.
const REMEMBERED: usize = 2048;

/// Close codes (RFC 6455, section 7.4.1).
const GOING_AWAY: u16 = 1001;
const POLICY_VIOLATION: u16 = 1008;
const INTERNAL_ERROR: u16 = 1011;

/// The stored events after `$2` that user `$1` may see, within the window; `{order}` and `$3` choose
/// which end of them.
fn backlog_query(order: &str) -> String {
    format!(
        "SELECT e.id, e.kind, e.idea_id, e.app_id, e.user_id, e.data, e.at FROM events e \
         WHERE e.id > GREATEST($2, (SELECT COALESCE(max(id), 0) FROM events) - $4) AND {VISIBLE_TO} \
         ORDER BY e.id {order} LIMIT $3"
    )
}
static LATEST: LazyLock<String> = LazyLock::new(|| backlog_query("DESC"));
static NEXT: LazyLock<String> = LazyLock::new(|| backlog_query("ASC"));

/// What a catch-up from the table sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// A reconnecting client: the most recent events it missed, at most [`BACKLOG_LIMIT`].
    Latest,
    /// A subscriber that lagged during this connection: every event it missed, page by page.
    Everything,
}

/// Why a connection ended.
enum End {
    /// The client closed or vanished; nobody to tell.
    ClientGone,
    /// The server is shutting down.
    Shutdown,
    /// The login was revoked or expired.
    LoggedOut,
    /// The client stopped answering pings.
    Silent,
    /// The database failed us.
    Failed,
}

/// Where a connection starts, fixed while the handshake is still being answered.
pub(crate) struct Start {
    /// The subscription to the bus, taken before anything is read from the table.
    live: broadcast::Receiver<Arc<LiveEvent>>,
    /// Held for the whole connection: shutdown waits until every receiver is gone, i.e. closed properly.
    closing: watch::Receiver<bool>,
    resume: Resume,
}

enum Resume {
    /// A reconnecting client: replay what it missed after this id.
    After(i64),
    /// Live events only: everything stored up to this id counts as seen.
    LiveOnly(i64),
}

impl Start {
    /// Subscribes, then (for a client that does not resume) reads the newest stored id.
    pub(crate) async fn take(state: &AppState, since: Option<i64>) -> sqlx::Result<Start> {
        let closing = state.events.closing();
        let live = state.events.subscribe();
        let resume = match since {
            Some(since) => Resume::After(since),
            None => {
                let (latest,): (i64,) =
                    sqlx::query_as("SELECT COALESCE(max(id), 0) FROM events").fetch_one(&state.db).await?;
                Resume::LiveOnly(latest)
            }
        };
        Ok(Start { live, closing, resume })
    }
}

/// Serves one upgraded connection of `user` until it ends.
pub(crate) async fn run(socket: WebSocket, state: AppState, user: AuthUser, token: String, start: Start) {
    let Start { live, closing, resume } = start;
    metrics::gauge!("vibe_ws_connections").increment(1.0);
    let mut connection = Connection { socket, state, user, token, closing, seen: Seen::new(0) };
    let end = connection.serve(live, resume).await.err().unwrap_or(End::ClientGone);
    connection.close(end).await;
    metrics::gauge!("vibe_ws_connections").decrement(1.0);
}

struct Connection {
    socket: WebSocket,
    state: AppState,
    user: AuthUser,
    token: String,
    closing: watch::Receiver<bool>,
    seen: Seen,
}

impl Connection {
    /// Runs until the connection must end; the error says why.
    async fn serve(
        &mut self,
        mut live: broadcast::Receiver<Arc<LiveEvent>>,
        resume: Resume,
    ) -> Result<(), End> {
        if *self.closing.borrow_and_update() {
            return Err(End::Shutdown);
        }
        match resume {
            Resume::After(since) => {
                self.seen = Seen::new(since);
                self.catch_up(Replay::Latest).await?;
            }
            Resume::LiveOnly(latest) => self.seen = Seen::new(latest),
        }
        let mut ticker = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut heard = Instant::now();
        loop {
            tokio::select! {
                changed = self.closing.changed() => {
                    if changed.is_err() || *self.closing.borrow() {
                        return Err(End::Shutdown);
                    }
                }
                received = live.recv() => match received {
                    Ok(event) => self.deliver(&event).await?,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, user = %self.user.id, "live events lagged; catching up");
                        metrics::counter!("vibe_ws_lagged_total").increment(1);
                        self.catch_up(Replay::Everything).await?;
                    }
                    Err(broadcast::error::RecvError::Closed) => return Err(End::Shutdown),
                },
                frame = self.socket.recv() => match frame {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Err(End::ClientGone),
                    // Pongs (and pings, which the socket answers by itself) show the client is alive.
                    Some(Ok(_)) => heard = Instant::now(),
                },
                _ = ticker.tick() => {
                    if heard.elapsed() > SILENCE_LIMIT {
                        return Err(End::Silent);
                    }
                    // A database hiccup is not a logout: only a definite "no such live session" ends it.
                    if let Ok(None) = user_for_token(&self.state, &self.token).await {
                        return Err(End::LoggedOut);
                    }
                    self.send(Message::Ping(Default::default())).await?;
                }
            }
        }
    }

    /// Sends a live event if this user may see it and has not had it yet.
    async fn deliver(&mut self, live: &LiveEvent) -> Result<(), End> {
        if live.audience.admits(self.user.id) && self.seen.first_time(live.event.id) {
            self.send_event(&live.event).await?;
        }
        Ok(())
    }

    /// Sends, from the table, the events after the last one sent that this user may see.
    async fn catch_up(&mut self, replay: Replay) -> Result<(), End> {
        loop {
            let query = if replay == Replay::Latest { &LATEST } else { &NEXT };
            let mut page = sqlx::query_as::<_, StoredEvent>(query)
                .bind(self.user.id)
                .bind(self.seen.high())
                .bind(BACKLOG_LIMIT)
                .bind(BACKLOG_WINDOW)
                .fetch_all(&self.state.db)
                .await
                .map_err(|err| {
                    tracing::warn!(error = %err, "reading the event backlog");
                    End::Failed
                })?;
            if replay == Replay::Latest {
                page.reverse();
            }
            let full = page.len() as i64 == BACKLOG_LIMIT;
            for event in &page {
                if self.seen.first_time(event.id) {
                    self.send_event(event).await?;
                }
            }
            if replay == Replay::Latest || !full {
                return Ok(());
            }
        }
    }

    async fn send_event(&mut self, event: &StoredEvent) -> Result<(), End> {
        let text = serde_json::to_string(event).map_err(|_| End::Failed)?;
        self.send(Message::Text(Utf8Bytes::from(text))).await
    }

    async fn send(&mut self, message: Message) -> Result<(), End> {
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(End::ClientGone),
        }
    }

    /// Tells the client why the connection ends (when it is still there) and waits briefly for its answer.
    async fn close(mut self, end: End) {
        let (code, reason) = match end {
            End::ClientGone => return,
            End::Shutdown => (GOING_AWAY, "server shutting down"),
            End::Silent => (GOING_AWAY, "no answer to pings"),
            End::LoggedOut => (POLICY_VIOLATION, "login ended"),
            End::Failed => (INTERNAL_ERROR, "internal error"),
        };
        let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
        if self.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            while let Some(Ok(message)) = self.socket.recv().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

/// The ids a connection has sent: everything at or below `floor`, and the ids in `recent`.
struct Seen {
    floor: i64,
    recent: BTreeSet<i64>,
}

impl Seen {
    fn new(floor: i64) -> Self {
        Seen { floor, recent: BTreeSet::new() }
    }

    /// Records `id` as sent; false when it already was.
    ///
    /// Ids are compared as a set rather than against the last one sent, because ids are taken when an
    /// event is inserted but announced when it commits: two concurrent publishers can commit out of order,
    /// and the smaller id must still go out.
    fn first_time(&mut self, id: i64) -> bool {
        if id <= self.floor || !self.recent.insert(id) {
            return false;
        }
        if self.recent.len() > REMEMBERED
            && let Some(oldest) = self.recent.pop_first()
        {
            self.floor = oldest;
        }
        true
    }

    /// The largest id sent (or known as seen).
    fn high(&self) -> i64 {
        self.recent.last().copied().unwrap_or(self.floor).max(self.floor)
    }
}

#[cfg(test)]
mod tests {
    use super::Seen;

    #[test]
    fn seen_skips_duplicates_and_keeps_out_of_order_ids() {
        let mut seen = Seen::new(10);
        assert!(!seen.first_time(10), "at or below since");
        assert!(seen.first_time(12));
        assert!(seen.first_time(11), "committed late, still new");
        assert!(!seen.first_time(12), "duplicate");
        assert_eq!(seen.high(), 12);
        for id in 13..13 + super::REMEMBERED as i64 {
            assert!(seen.first_time(id));
        }
        assert!(!seen.first_time(11), "forgotten ids count as seen");
    }
}
