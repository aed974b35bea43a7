//! Purchases through Stripe Checkout: a `credit_purchases` row, then a Checkout Session created with
//! Stripe's API (`POST {VIBE_STRIPE_API_BASE}/v1/checkout/sessions`, form-encoded, the secret key as a
//! bearer token, an `Idempotency-Key` so a retried request makes one session). The buyer pays on Stripe's
//! page; the credits arrive with the webhook ([`super::webhook`]), never with the redirect back.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::config::MAX_PURCHASE;
use super::{Ledger, LedgerError};
use crate::error::ApiError;

/// How long a call to Stripe may take.
const STRIPE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// A purchase started: where to send the buyer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Checkout {
    /// The purchase's id (the Checkout Session's metadata `purchase_id`).
    pub purchase_id: Uuid,
    /// The Stripe Checkout Session id (`cs_…`).
    pub checkout_session_id: String,
    /// Stripe's hosted payment page: send the buyer there.
    pub url: String,
    pub credits: i64,
    /// The price, in the smallest unit of `currency`.
    pub amount: i64,
    pub currency: String,
}

/// The fields of Stripe's Checkout Session object we read.
#[derive(Debug, Deserialize)]
struct CheckoutSession {
    id: String,
    url: Option<String>,
}

/// Stripe's error body: `{"error":{"type","message",…}}`.
#[derive(Debug, Deserialize)]
struct StripeErrorBody {
    error: StripeError,
}

#[derive(Debug, Deserialize)]
struct StripeError {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

impl Ledger {
    /// Starts a purchase of `credits` for `user_id`: records it, creates the Checkout Session and returns
    /// its URL. `base` is the public URL the buyer comes back to.
    pub async fn start_purchase(
        &self,
        user_id: Uuid,
        email: &str,
        credits: i64,
        base: &str,
    ) -> Result<Checkout, ApiError> {
        let Some(secret) = &self.config.stripe_secret_key else {
            return Err(ApiError::PurchasesNotConfigured(
                "purchases are not configured on this server (no VIBE_STRIPE_SECRET_KEY); ask an operator to \
                 grant credits"
                    .to_owned(),
            ));
        };
        if credits < self.config.min_purchase || credits > MAX_PURCHASE {
            return Err(LedgerError::invalid(
                "credits",
                format!("must be {} to {MAX_PURCHASE}", self.config.min_purchase),
            )
            .into());
        }
        let amount = credits
            .checked_mul(self.config.credit_price_cents)
            .filter(|amount| *amount > 0)
            .ok_or_else(|| LedgerError::invalid("credits", "the price is out of range"))?;
        let currency = self.config.credit_currency.to_ascii_lowercase();
        let purchase_id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO credit_purchases (id, user_id, credits, amount_cents, currency) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(purchase_id)
        .bind(user_id)
        .bind(credits)
        .bind(amount)
        .bind(&currency)
        .execute(&self.db)
        .await?;

        let form: Vec<(&str, String)> = vec![
            ("mode", "payment".to_owned()),
            ("success_url", format!("{base}/credits?purchase={purchase_id}&checkout=success")),
            ("cancel_url", format!("{base}/credits?purchase={purchase_id}&checkout=cancelled")),
            ("client_reference_id", user_id.to_string()),
            ("customer_email", email.to_owned()),
            ("line_items[0][quantity]", "1".to_owned()),
            ("line_items[0][price_data][currency]", currency.clone()),
            ("line_items[0][price_data][unit_amount]", amount.to_string()),
            ("line_items[0][price_data][product_data][name]", format!("{credits} Vibe credits")),
            ("metadata[purchase_id]", purchase_id.to_string()),
            ("metadata[user_id]", user_id.to_string()),
            ("metadata[credits]", credits.to_string()),
        ];
        let url =
            format!("{}/v1/checkout/sessions", self.config.stripe_api_base.as_str().trim_end_matches('/'));
        let secret = String::from_utf8_lossy(secret.expose()).into_owned();
        let response = self
            .http
            .post(&url)
            .bearer_auth(secret)
            .header("Idempotency-Key", format!("vibe-purchase-{purchase_id}"))
            .timeout(STRIPE_TIMEOUT)
            .form(&form)
            .send()
            .await
            .map_err(|error| stripe_unavailable(&format!("reaching Stripe: {error}")))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| stripe_unavailable(&format!("reading Stripe: {error}")))?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<StripeErrorBody>(&body)
                .map(|body| {
                    format!(
                        "{}: {}",
                        body.error.kind.unwrap_or_default(),
                        body.error.message.unwrap_or_default()
                    )
                })
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(300).collect());
            return Err(stripe_unavailable(&format!("Stripe answered {status}: {detail}")));
        }
        let session: CheckoutSession = serde_json::from_slice(&body).map_err(|error| {
            stripe_unavailable(&format!("Stripe's answer is not a Checkout Session: {error}"))
        })?;
        let Some(checkout_url) = session.url else {
            return Err(stripe_unavailable("Stripe's Checkout Session has no url"));
        };
        sqlx::query("UPDATE credit_purchases SET checkout_session_id = $2 WHERE id = $1")
            .bind(purchase_id)
            .bind(&session.id)
            .execute(&self.db)
            .await?;
        Ok(Checkout {
            purchase_id,
            checkout_session_id: session.id,
            url: checkout_url,
            credits,
            amount,
            currency,
        })
    }
}

/// Stripe failed us: logged in full, answered as 503 without Stripe's internals.
fn stripe_unavailable(detail: &str) -> ApiError {
    tracing::error!(detail, "credits: creating a Stripe Checkout Session failed");
    ApiError::Unavailable
}
