-- The LLM gateway's record of every call (host/src/llm/billing.rs). A call is written as
-- 'pending' with the credits it may cost at most (its reservation), before the provider is
-- asked, in the same transaction as the owner's balance check; it is settled ('ok' or 'failed')
-- with its provider, model, tokens, latency and the credits charged, in the same transaction as
-- the ledger entry and agent_sessions.credits_consumed. Pending reservations count against the
-- balance, so concurrent calls cannot together spend more than it; a reservation left by a host
-- that died stops counting after 15 minutes.

CREATE TABLE llm_calls (
    id               UUID PRIMARY KEY,
    session_id       UUID REFERENCES agent_sessions (id) ON DELETE SET NULL,
    idea_id          UUID,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plugin_name      TEXT NOT NULL,
    plugin_version   TEXT NOT NULL,
    streamed         BOOLEAN NOT NULL,
    provider         TEXT,
    model            TEXT,
    input_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens    INTEGER NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    reserved_credits BIGINT NOT NULL CHECK (reserved_credits >= 0),
    credits          BIGINT NOT NULL DEFAULT 0 CHECK (credits >= 0),
    outcome          TEXT NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'ok', 'failed')),
    error            TEXT,
    latency_ms       INTEGER,
    started_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ
);
CREATE INDEX llm_calls_pending ON llm_calls (user_id, started_at) WHERE outcome = 'pending';
CREATE INDEX llm_calls_session ON llm_calls (session_id);
