//! Outgoing mail (magic links, invitations), behind one trait with two backends:
//! SMTP when `VIBE_SMTP_URL` is set, otherwise the outbox table and the log (local development).

pub mod outbox;
pub mod smtp;

use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::PgPool;

use crate::config::ServeConfig;

/// A plain-text mail.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Sends mail.
pub trait Mailer: Send + Sync {
    /// Sends (or durably queues) `mail`.
    fn send(&self, mail: Mail) -> BoxFuture<'_, anyhow::Result<()>>;
}

/// The mailer the configuration asks for.
pub fn from_config(config: &ServeConfig, db: PgPool) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(match &config.smtp_url {
        Some(url) => Arc::new(smtp::SmtpMailer::new(url, &config.mail_from, db)?),
        None => Arc::new(outbox::OutboxMailer::new(db)),
    })
}
