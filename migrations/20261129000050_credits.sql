-- Credits: idempotent ledger writes, reservations, spending pauses, app grace periods and Stripe purchases.
--
-- Decisions:
--   * credit_ledger.request_fingerprint: a digest of what a write asked for (kind, amount, reason, reference).
--     A retry with the same idempotency key and the same fingerprint returns the first result; the same key
--     with another fingerprint is refused. Rows written before this migration have none and match nothing.
--   * credit_reservations hold credits for work in progress (an LLM call, a build). Held credits reduce what
--     is available but not the balance; settling writes one usage entry and ends the hold. A hold expires: a
--     crashed process never settles, and the sweep (at start and periodically) releases what expired.
--   * credit_spend_pauses: a consumption spike stops a user's spending until `until` or an operator lifts it.
--   * app_credit_grace: when an app's owner runs out, the app keeps serving until `deadline`, then pauses.
--   * credit_purchases / stripe_events: a Checkout session per purchase, and every webhook event id seen, so a
--     purchase is granted once however often Stripe delivers it.

ALTER TABLE credit_ledger ADD COLUMN request_fingerprint TEXT;
CREATE INDEX credit_ledger_reference ON credit_ledger (user_id, reference_type, reference_id) WHERE kind = 'usage';
CREATE INDEX credit_ledger_recent_usage ON credit_ledger (user_id, created_at) WHERE kind = 'usage';

CREATE TABLE credit_reservations (
    id                  UUID PRIMARY KEY,
    user_id             UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount              BIGINT NOT NULL CHECK (amount > 0),
    reason              TEXT NOT NULL,
    reference_type      TEXT,
    reference_id        TEXT,
    -- Which process holds it (for operators reading the table; expiry is what releases it).
    owner               TEXT NOT NULL,
    idempotency_key     TEXT NOT NULL,
    request_fingerprint TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'settled', 'released')),
    charged             BIGINT CHECK (charged >= 0),
    ledger_id           BIGINT REFERENCES credit_ledger (id) ON DELETE SET NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at          TIMESTAMPTZ NOT NULL,
    ended_at            TIMESTAMPTZ,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX credit_reservations_held ON credit_reservations (user_id) WHERE status = 'held';
CREATE INDEX credit_reservations_expiry ON credit_reservations (expires_at) WHERE status = 'held';

CREATE TABLE credit_spend_pauses (
    user_id    UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    reason     TEXT NOT NULL,
    paused_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    until      TIMESTAMPTZ NOT NULL
);

CREATE TABLE app_credit_grace (
    app_id       UUID PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    exhausted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deadline     TIMESTAMPTZ NOT NULL,
    paused_at    TIMESTAMPTZ
);

CREATE TABLE credit_purchases (
    id                  UUID PRIMARY KEY,
    user_id             UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credits             BIGINT NOT NULL CHECK (credits > 0),
    amount_cents        BIGINT NOT NULL CHECK (amount_cents > 0),
    currency            TEXT NOT NULL,
    checkout_session_id TEXT UNIQUE,
    status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed')),
    ledger_id           BIGINT REFERENCES credit_ledger (id) ON DELETE SET NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at        TIMESTAMPTZ
);
CREATE INDEX credit_purchases_user ON credit_purchases (user_id, created_at DESC);

CREATE TABLE stripe_events (
    id                  TEXT PRIMARY KEY,
    kind                TEXT NOT NULL,
    checkout_session_id TEXT,
    received_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
