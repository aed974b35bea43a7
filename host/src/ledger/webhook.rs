//! Stripe's webhook: verifies the `Stripe-Signature` header and grants a paid purchase exactly once.
//!
//! The header is `t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…][,v0=…]`; the signature is the HMAC with
//! the endpoint's secret (`VIBE_STRIPE_WEBHOOK_SECRET`) over `"{t}.{raw body}"`, so the body must be
//! checked exactly as received (a re-serialised body does not match). Timestamps more than five minutes
//! from now are refused, so a captured delivery cannot be replayed later.
//!
//! `checkout.session.completed` (and `checkout.session.async_payment_succeeded`) with `payment_status`
//! `paid` grants the purchase's credits: in one transaction the event id is recorded (a redelivered event
//! changes nothing), the purchase is completed (a second event about the same session changes nothing),
//! and the `purchase` entry is written with the Checkout Session as its key. Other events are acknowledged
//! and ignored.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

use super::entries;
use super::{EntryKind, Ledger, LedgerError, NewEntry, Reference, ReferenceKind};

/// How far a signature's timestamp may be from now.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    #[error("the signature's timestamp is more than five minutes from now")]
    Stale,
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// Checks `header` against `body` signed with `secret`, at `now` (unix seconds).
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return Err(SignatureError::Malformed);
    };
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let mut signed = timestamp.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(body);
    for signature in signatures {
        // `verify_slice` compares in constant time.
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Malformed)?;
        mac.update(&signed);
        if mac.verify_slice(&signature).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// The `Stripe-Signature` value for `body` at `timestamp` (what Stripe sends; tests sign with it).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The fields of a Stripe event we read.
#[derive(Debug, Deserialize)]
pub struct StripeEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// A purchase row: id, user, credits, amount, currency, status.
type Purchase = (Uuid, Uuid, i64, i64, String, String);

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    /// The purchase's credits were granted.
    Granted,
    /// This event was handled before.
    DuplicateEvent,
    /// The purchase was granted before (by another event about the same session).
    AlreadyGranted,
    /// Not an event that grants anything, or not about a purchase of ours.
    Ignored,
}

impl Ledger {
    /// Handles a verified event.
    pub async fn handle_stripe_event(&self, event: &StripeEvent) -> Result<WebhookOutcome, LedgerError> {
        let grants = matches!(
            event.kind.as_str(),
            "checkout.session.completed" | "checkout.session.async_payment_succeeded"
        );
        let object = &event.data.object;
        let session_id = object.get("id").and_then(|v| v.as_str()).map(str::to_owned);
        let paid = object.get("payment_status").and_then(|v| v.as_str()) == Some("paid");

        let mut tx = self.db.begin().await?;
        let recorded = sqlx::query(
            "INSERT INTO stripe_events (id, kind, checkout_session_id) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&event.id)
        .bind(&event.kind)
        .bind(&session_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if recorded == 0 {
            return Ok(WebhookOutcome::DuplicateEvent);
        }
        let (Some(session_id), true, true) = (session_id, grants, paid) else {
            tx.commit().await?;
            return Ok(WebhookOutcome::Ignored);
        };
        let purchase_hint = object
            .pointer("/metadata/purchase_id")
            .and_then(|v| v.as_str())
            .and_then(|id| id.parse::<Uuid>().ok());
        // The session id is recorded when Stripe answered; the metadata covers a crash just before that.
        let purchase: Option<Purchase> = sqlx::query_as(
            "SELECT id, user_id, credits, amount_cents, currency, status FROM credit_purchases \
             WHERE checkout_session_id = $1 OR (id = $2 AND checkout_session_id IS NULL) \
             ORDER BY checkout_session_id NULLS LAST LIMIT 1 FOR UPDATE",
        )
        .bind(&session_id)
        .bind(purchase_hint)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((purchase_id, user_id, credits, amount, currency, status)) = purchase else {
            tracing::warn!(event = %event.id, session = %session_id, "credits: a paid Checkout Session that is no purchase of ours");
            tx.commit().await?;
            return Ok(WebhookOutcome::Ignored);
        };
        if status == "completed" {
            tx.commit().await?;
            return Ok(WebhookOutcome::AlreadyGranted);
        }
        let paid_amount = object.get("amount_total").and_then(|v| v.as_i64());
        let paid_currency = object.get("currency").and_then(|v| v.as_str());
        if paid_amount != Some(amount)
            || paid_currency.map(str::to_ascii_lowercase).as_deref() != Some(&currency)
        {
            tracing::error!(
                event = %event.id, %purchase_id, ?paid_amount, ?paid_currency, amount, %currency,
                "credits: a Checkout Session paid another amount than its purchase; not granted"
            );
            tx.commit().await?;
            return Ok(WebhookOutcome::Ignored);
        }
        let entry = NewEntry {
            user_id,
            kind: EntryKind::Purchase,
            amount: credits,
            reason: format!("purchase of {credits} credits"),
            reference: Some(Reference::new(ReferenceKind::Payment, &session_id)),
            idempotency_key: format!("stripe_checkout:{session_id}"),
        };
        let (posted, _) = entries::post_in(&mut tx, &entry, &self.config).await?;
        sqlx::query(
            "UPDATE credit_purchases SET status = 'completed', completed_at = now(), ledger_id = $2, \
             checkout_session_id = $3 WHERE id = $1",
        )
        .bind(purchase_id)
        .bind(posted.ledger_id)
        .bind(&session_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if posted.replayed {
            return Ok(WebhookOutcome::AlreadyGranted);
        }
        tracing::info!(%user_id, credits, session = %session_id, "credits: purchase granted");
        self.notify_user(
            user_id,
            serde_json::json!({
                "kind": "credits_purchased",
                "message": format!("{credits} credits were added to your balance."),
                "credits": credits,
                "balance": posted.balance_after,
            }),
        )
        .await;
        Ok(WebhookOutcome::Granted)
    }
}

/// Now, in unix seconds.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}
