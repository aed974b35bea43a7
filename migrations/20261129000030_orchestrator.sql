-- The orchestrator's durable jobs and the conversation engine's memory (host/src/jobs/, host/src/conversation/).
--   * jobs: work that must survive the process that started it. Any `vibe` process claims a job with
--     FOR UPDATE SKIP LOCKED and holds a lease it renews while running; a job whose lease expired (its
--     process died) is claimed again. Each claim gets a fresh claim_token, and a job's effects are committed
--     only together with marking the job done under that token, so a run whose lease was taken over can
--     never apply them a second time. idempotency_key makes enqueueing the same work twice a no-op.
--     Jobs sharing a serial_key run one at a time, in the order they were enqueued (a session's turns).
--   * idea_facts: key facts the conversation engine extracted from an idea's artifacts and answers, kept
--     so that every turn (on any process, after any restart) sees them.
--   * user_preferences: long-term memory of what a person said they prefer (a style, a language), across
--     all their ideas.

CREATE TABLE jobs (
    id               UUID PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,63}$'),
    payload          JSONB NOT NULL DEFAULT '{}',
    idempotency_key  TEXT NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 300),
    serial_key       TEXT,
    status           TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     INTEGER NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    run_after        TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    claim_token      UUID,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ,
    CHECK (status <> 'running' OR (lease_expires_at IS NOT NULL AND claim_token IS NOT NULL))
);
-- What a worker looks for: queued jobs that are due, and running jobs whose lease ran out.
CREATE INDEX jobs_due ON jobs (run_after) WHERE status = 'queued';
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_serial ON jobs (serial_key, id) WHERE status IN ('queued', 'running');

CREATE TABLE idea_facts (
    idea_id    UUID NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    key        TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    value      TEXT NOT NULL CHECK (length(value) <= 2000),
    -- Where it was read: `artifact:<name>@<version>`, `idea`, or `message:<id>`.
    source     TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (idea_id, key)
);

CREATE TABLE user_preferences (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key        TEXT NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,63}$'),
    value      TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 500),
    -- Where it was learned: `message:<id>` or `artifact:user-preferences@<version>`.
    source     TEXT NOT NULL,
    idea_id    UUID REFERENCES ideas (id) ON DELETE SET NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
