//! The meter of app hosting: every batch of requests the apps' analytics write is charged to the apps'
//! owners at `VIBE_PRICE_APP_1K_REQUESTS`, through [`Ledger::charge_app`] and so its grace path (an
//! owner who ran out keeps their app serving for the grace period, then it pauses).
//!
//! A batch is often a handful of requests, worth a fraction of a credit. Rounding each batch up would
//! charge a thousand times the price to a quiet app, so the meter keeps the fraction per app
//! (in thousandths of a credit) and charges whole credits once they add up. The fraction lives in memory:
//! a restart forgets less than one credit per app, in the owner's favour. Requests served while the
//! owner cannot pay are forgiven, not carried over.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use uuid::Uuid;

use super::grace::AppCharge;
use super::{Ledger, LedgerError};
use crate::apps::WeakAppsService;
use crate::apps::analytics::RequestMeter;

/// What one app served since its last charge.
#[derive(Default, Clone, Copy)]
struct Owed {
    requests: u64,
    /// Thousandths of a credit.
    millis: u128,
}

/// What every app owes, per app.
#[derive(Default)]
struct Tally(Mutex<HashMap<Uuid, Owed>>);

impl Tally {
    /// Adds `requests` at `per_1k` credits per 1,000 to what `app_id` owes and takes the whole credits
    /// out: `(credits, requests)` to charge now, or `None` while they add up to less than one credit.
    fn take_whole(&self, app_id: Uuid, requests: u64, per_1k: i64) -> Option<(i64, u64)> {
        let per_1k = u128::try_from(per_1k).ok().filter(|price| *price > 0)?;
        let mut owed = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = owed.entry(app_id).or_default();
        entry.requests = entry.requests.saturating_add(requests);
        entry.millis = entry.millis.saturating_add(u128::from(requests) * per_1k);
        let credits = entry.millis / 1000;
        if credits == 0 {
            return None;
        }
        let requests = entry.requests;
        let millis = entry.millis % 1000;
        // Only a fraction is kept; an app that owes nothing takes no memory.
        if millis == 0 {
            owed.remove(&app_id);
        } else {
            *entry = Owed { requests: 0, millis };
        }
        Some((i64::try_from(credits).unwrap_or(i64::MAX), requests))
    }
}

/// Charges served requests; set on the apps service at server start
/// ([`crate::apps::AppsService::meter_requests`]).
pub struct AppRequestMeter {
    ledger: Ledger,
    /// Pauses apps past their grace period; weak, since the apps service holds the meter.
    apps: WeakAppsService,
    tally: Tally,
}

impl AppRequestMeter {
    pub fn new(ledger: Ledger, apps: WeakAppsService) -> Self {
        AppRequestMeter { ledger, apps, tally: Tally::default() }
    }
}

#[async_trait]
impl RequestMeter for AppRequestMeter {
    async fn charge(&self, served: Vec<(Uuid, u64)>, batch: Uuid) {
        let apps = self.apps.upgrade();
        let per_1k = self.ledger.config().price_app_1k_requests;
        for (app_id, requests) in served {
            let Some((credits, requests)) = self.tally.take_whole(app_id, requests, per_1k) else { continue };
            let key = batch.to_string();
            match self.ledger.charge_app(apps.as_ref(), app_id, credits, requests, &key).await {
                Ok(AppCharge::Grace { deadline }) => {
                    tracing::info!(%app_id, %deadline, "credits: app serving on its grace period");
                }
                Ok(AppCharge::Paused) => {
                    tracing::info!(%app_id, "credits: app paused, its owner is out of credits")
                }
                Ok(AppCharge::Free | AppCharge::Charged { .. }) => {}
                // Deleted since its requests were queued.
                Err(LedgerError::Invalid { field: "app_id", .. }) => {}
                Err(error) => {
                    tracing::warn!(%app_id, credits, error = %error, "credits: charging app requests failed")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_add_up_to_whole_credits_and_the_rest_carries_over() {
        let tally = Tally::default();
        let app = Uuid::now_v7();
        // 3 credits per 1,000: 300 requests are 0.9 credit, nothing yet.
        assert_eq!(tally.take_whole(app, 300, 3), None);
        // 400 more: 2.1 credits, 2 charged for the 700 requests, 0.1 kept.
        assert_eq!(tally.take_whole(app, 400, 3), Some((2, 700)));
        // 300 more: 0.1 + 0.9 = 1 credit exactly, and nothing is kept.
        assert_eq!(tally.take_whole(app, 300, 3), Some((1, 300)));
        assert!(tally.0.lock().unwrap().is_empty());
        // Apps owe separately.
        let other = Uuid::now_v7();
        assert_eq!(tally.take_whole(other, 1, 1000), Some((1, 1)));
        assert_eq!(tally.take_whole(app, 1, 1000), Some((1, 1)));
    }

    #[test]
    fn free_hosting_owes_nothing() {
        let tally = Tally::default();
        assert_eq!(tally.take_whole(Uuid::now_v7(), 1_000_000, 0), None);
        assert_eq!(tally.take_whole(Uuid::now_v7(), 1_000_000, -5), None);
        assert!(tally.0.lock().unwrap().is_empty());
    }
}
