//! User accounts: creation (signup, magic links, the CLI), lookup and the operator role.

use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Role;
use crate::error::ApiError;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub profile: serde_json::Value,
    pub role: Role,
    pub credits_balance: i64,
    pub subscription_tier: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Columns selected into [`User`].
pub const USER_COLUMNS: &str =
    "id, email, name, profile, role, credits_balance, subscription_tier, created_at";

/// A new account.
#[derive(Debug)]
pub struct NewUser {
    pub email: String,
    /// An argon2id PHC string, or none for magic-link-only accounts.
    pub password_hash: Option<String>,
    pub name: String,
    pub role: Role,
    /// Credits granted on creation (a ledger entry of kind `grant`).
    pub initial_credits: i64,
}

/// Checks an email address's shape (one `@`, a dotted or local domain, no spaces, at most 254 bytes)
/// and returns it trimmed and lowercased.
pub fn normalize_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_ascii_lowercase();
    let invalid = || ApiError::validation("email", "not a valid email address");
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    if local.is_empty() || local.len() > 64 || domain.is_empty() || domain.contains('@') {
        return Err(invalid());
    }
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err(invalid());
    }
    Ok(email)
}

/// Creates an account, grants its initial credits and attaches invitations already sent to its email,
/// all in one transaction. A taken email is a 409.
pub async fn create(db: &PgPool, new: NewUser) -> Result<User, ApiError> {
    let mut tx = db.begin().await?;
    let user = create_in(&mut tx, new).await?;
    tx.commit().await?;
    Ok(user)
}

/// [`create`] inside a caller's transaction.
pub async fn create_in(tx: &mut Transaction<'_, Postgres>, new: NewUser) -> Result<User, ApiError> {
    let email = normalize_email(&new.email)?;
    let id = Uuid::now_v7();
    let inserted = sqlx::query_as::<_, User>(&format!(
        "INSERT INTO users (id, email, password_hash, name, role, credits_balance) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}"
    ))
    .bind(id)
    .bind(&email)
    .bind(&new.password_hash)
    .bind(&new.name)
    .bind(new.role)
    .bind(new.initial_credits.max(0))
    .fetch_one(&mut **tx)
    .await;
    let user = match inserted {
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            return Err(ApiError::Conflict("an account with this email already exists".into()));
        }
        other => other?,
    };
    if new.initial_credits > 0 {
        sqlx::query(
            "INSERT INTO credit_ledger (user_id, kind, amount, balance_after, reason, idempotency_key) \
             VALUES ($1, 'grant', $2, $2, 'welcome credits', 'signup')",
        )
        .bind(user.id)
        .bind(new.initial_credits)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("UPDATE idea_collaborators SET user_id = $1 WHERE user_id IS NULL AND lower(email) = $2")
        .bind(user.id)
        .bind(&email)
        .execute(&mut **tx)
        .await?;
    Ok(user)
}

/// Finds an account by email.
pub async fn find_by_email(db: &PgPool, email: &str) -> Result<Option<User>, ApiError> {
    Ok(sqlx::query_as::<_, User>(&format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)"))
        .bind(email.trim())
        .fetch_optional(db)
        .await?)
}

/// Loads an account by id.
pub async fn get(db: &PgPool, id: Uuid) -> Result<User, ApiError> {
    Ok(sqlx::query_as::<_, User>(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_one(db)
        .await?)
}

/// Gives the account with `email` the operator role.
pub async fn promote(db: &PgPool, email: &str) -> Result<User, ApiError> {
    sqlx::query_as::<_, User>(&format!(
        "UPDATE users SET role = 'operator', updated_at = now() WHERE lower(email) = lower($1) RETURNING {USER_COLUMNS}"
    ))
    .bind(email.trim())
    .fetch_optional(db)
    .await?
    .ok_or(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails() {
        assert_eq!(normalize_email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in ["", "ada", "@example.com", "ada@", "a b@example.com", "ada@@x", "ada@.x", "ada@x..y"] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }
}
