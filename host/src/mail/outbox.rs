//! The development mailer: mail is written to the `mail_outbox` table and to the log, so a person running
//! Vibe locally can follow a magic link without any mail server.

use futures::future::BoxFuture;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Mail, Mailer};

/// Writes mail to the outbox table and the log.
pub struct OutboxMailer {
    db: PgPool,
}

impl OutboxMailer {
    pub fn new(db: PgPool) -> Self {
        OutboxMailer { db }
    }
}

impl Mailer for OutboxMailer {
    fn send(&self, mail: Mail) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            sqlx::query("INSERT INTO mail_outbox (id, recipient, subject, body) VALUES ($1, $2, $3, $4)")
                .bind(Uuid::new_v4())
                .bind(&mail.to)
                .bind(&mail.subject)
                .bind(&mail.body)
                .execute(&self.db)
                .await?;
            // No SMTP server is configured: the log is how a developer receives this mail.
            tracing::info!(to = %mail.to, subject = %mail.subject, body = %mail.body, "mail (no SMTP configured)");
            Ok(())
        })
    }
}
