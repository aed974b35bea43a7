//! Outgoing mail over SMTP, against a local server that speaks the protocol (RFC 5321) and records
//! what it was given.

use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::support::TestServer;

/// One mail as the SMTP server received it.
#[derive(Debug, Default, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A minimal SMTP server on a loopback port: greets, accepts EHLO, MAIL, RCPT, DATA, QUIT.
async fn smtp_server() -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let store = mails.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 test.local ESMTP ready\r\n").await.unwrap();
                let mut mail = Received::default();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-test.local\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        mail.from = line[10..].trim().to_owned();
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        mail.to.push(line[8..].trim().to_owned());
                        b"250 OK\r\n"
                    } else if upper == "DATA" {
                        write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await.unwrap();
                        while let Ok(Some(data)) = lines.next_line().await {
                            if data == "." {
                                break;
                            }
                            mail.data.push_str(&data);
                            mail.data.push('\n');
                        }
                        store.lock().unwrap().push(std::mem::take(&mut mail));
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else if upper == "RSET" || upper == "NOOP" {
                        b"250 OK\r\n"
                    } else {
                        b"502 not implemented\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, mails)
}

#[sqlx::test(migrations = "../migrations")]
async fn magic_links_go_out_over_smtp_when_configured(db: PgPool) {
    let (port, mails) = smtp_server().await;
    let server = TestServer::start_with(db, |config| {
        config.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        config.mail_from = "Vibe <noreply@vibe.test>".into();
    })
    .await;

    let response = server
        .anon(Method::POST, "/api/auth/magic-link")
        .json(&json!({"email": "ada@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let received = mails.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "one mail delivered: {received:?}");
    let mail = &received[0];
    assert_eq!(mail.from, "<noreply@vibe.test>");
    assert_eq!(mail.to, vec!["<ada@example.com>".to_owned()]);
    assert!(mail.data.contains("/api/auth/magic-link/confirm?token="), "{}", mail.data);

    let (sent,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM mail_outbox WHERE recipient = 'ada@example.com' AND sent_at IS NOT NULL",
    )
    .fetch_one(&server.db)
    .await
    .unwrap();
    assert_eq!(sent, 1, "the sent mail is recorded with its send time");
}

#[sqlx::test(migrations = "../migrations")]
async fn without_smtp_mail_lands_in_the_outbox(db: PgPool) {
    let server = TestServer::start(db).await;
    let response = server
        .anon(Method::POST, "/api/auth/magic-link")
        .json(&json!({"email": "ada@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let (body, sent_at): (String, Option<time::OffsetDateTime>) =
        sqlx::query_as("SELECT body, sent_at FROM mail_outbox WHERE recipient = 'ada@example.com'")
            .fetch_one(&server.db)
            .await
            .unwrap();
    assert!(body.contains("/api/auth/magic-link/confirm?token="));
    assert!(sent_at.is_none(), "queued, not sent");
}
