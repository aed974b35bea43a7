//! The SMTP mailer (lettre). Each mail is also recorded in the outbox with its send time.

use futures::future::BoxFuture;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::PgPool;
use uuid::Uuid;

use super::{Mail, Mailer};

/// Sends mail through an SMTP server given as a URL (`smtp://`, `smtps://`, with optional credentials).
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    db: PgPool,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str, db: PgPool) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("VIBE_SMTP_URL is not a valid SMTP URL: {e}"))?
            .build();
        let from = from.parse().map_err(|e| anyhow::anyhow!("VIBE_MAIL_FROM is not a mailbox: {e}"))?;
        Ok(SmtpMailer { transport, from, db })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: Mail) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            let message = Message::builder()
                .from(self.from.clone())
                .to(mail.to.parse()?)
                .subject(mail.subject.clone())
                .body(mail.body.clone())?;
            self.transport.send(message).await?;
            sqlx::query(
                "INSERT INTO mail_outbox (id, recipient, subject, body, sent_at) VALUES ($1, $2, $3, $4, now())",
            )
            .bind(Uuid::new_v4())
            .bind(&mail.to)
            .bind(&mail.subject)
            .bind(&mail.body)
            .execute(&self.db)
            .await?;
            tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent");
            Ok(())
        })
    }
}
