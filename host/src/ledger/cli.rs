//! `vibe credits …` (operators): grants and corrections on the database, written through the ledger like
//! every other change, so they show in the user's ledger with their reason.

use anyhow::Context;
use sqlx::PgPool;
use uuid::Uuid;

use super::{CreditsConfig, EntryKind, Ledger, LedgerError, NewEntry};
use crate::config::CreditsCommand;
use crate::events::EventBus;

/// Runs one `vibe credits` command on `db`.
pub async fn run(db: &PgPool, command: CreditsCommand) -> anyhow::Result<()> {
    match command {
        CreditsCommand::Grant { email, amount, reason, key } => {
            if amount <= 0 {
                anyhow::bail!("the amount must be a positive number of credits");
            }
            let user: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
                    .bind(email.trim())
                    .fetch_optional(db)
                    .await
                    .context("looking the account up")?;
            let user_id = user.with_context(|| format!("no account with email {email}"))?;
            let events = EventBus::start(db.clone()).await?;
            let ledger = Ledger::new(db.clone(), events, CreditsConfig::default())?;
            let entry = NewEntry {
                user_id,
                kind: EntryKind::Grant,
                amount,
                reason: reason.unwrap_or_else(|| "granted by an operator".to_owned()),
                reference: None,
                idempotency_key: key.unwrap_or_else(|| format!("operator_grant:{}", Uuid::now_v7())),
            };
            let posted = match ledger.post(&entry).await {
                Ok(posted) => posted,
                Err(LedgerError::KeyReused(key)) => {
                    anyhow::bail!("the key {key} was already used for another grant")
                }
                Err(error) => return Err(anyhow::anyhow!("{error}")).context("granting the credits"),
            };
            if posted.replayed {
                println!(
                    "already granted (entry {}); the balance of {email} is {}",
                    posted.ledger_id, posted.balance_after
                );
            } else {
                println!("granted {amount} credits to {email}; the balance is now {}", posted.balance_after);
            }
        }
    }
    Ok(())
}
