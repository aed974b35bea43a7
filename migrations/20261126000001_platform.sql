-- The platform's core tables, started from the seed's schema (shared/seed/technical-architecture.md).
-- Changes from the seed, and why:
--   * TIMESTAMPTZ everywhere: instants, not wall-clock readings of whatever zone the server is in.
--   * TEXT with CHECK constraints instead of VARCHAR(n) for enumerations: the database refuses unknown states.
--   * users.role: operators are users with the operator role.
--   * users.email is unique case-insensitively; password_hash is nullable (magic-link-only accounts).
--   * users.credits_balance is BIGINT, never negative, and only ever changed together with a credit_ledger row.
--   * idea_collaborators is keyed by email: an invitation can name someone who has no account yet; user_id is
--     filled in when an account with that email exists. The owner has a row too, so one lookup answers
--     "what may this user do with this idea".
--   * agent_sessions.transcript becomes agent_messages, one row per message: appends never rewrite the whole
--     transcript and concurrent appends cannot lose each other.
--   * agent_registry keeps one row per agent type; its versions live in agent_versions, side by side, because
--     operators route traffic between several versions of one type.
--   * apps.url is derived from the slug and the apps domain; apps get a slug and versions (app_versions).

CREATE TABLE users (
    id                UUID PRIMARY KEY,
    email             TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash     TEXT,
    name              TEXT NOT NULL DEFAULT '',
    profile           JSONB NOT NULL DEFAULT '{}',
    role              TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'operator')),
    credits_balance   BIGINT NOT NULL DEFAULT 0 CHECK (credits_balance >= 0),
    subscription_tier TEXT NOT NULL DEFAULT 'free',
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- A login: the token names the session, so logout (revoked_at) takes effect at once on every request.
CREATE TABLE login_sessions (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ,
    user_agent  TEXT,
    client_addr TEXT
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

-- Magic links: only the SHA-256 of the token is stored; a row is consumed once (used_at).
CREATE TABLE magic_link_tokens (
    token_hash BYTEA PRIMARY KEY,
    email      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

-- Mail written here when no SMTP server is configured (and kept as a record when one is).
CREATE TABLE mail_outbox (
    id         UUID PRIMARY KEY,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at    TIMESTAMPTZ
);

CREATE TABLE ideas (
    id             UUID PRIMARY KEY,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status         TEXT NOT NULL DEFAULT 'ideation'
                   CHECK (status IN ('ideation', 'specification', 'building', 'live')),
    summary        TEXT NOT NULL DEFAULT '',
    full_context   JSONB NOT NULL DEFAULT '{}',
    specifications JSONB,
    visibility     TEXT NOT NULL DEFAULT 'private'
                   CHECK (visibility IN ('private', 'collaborators', 'public')),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ideas_user ON ideas (user_id);

CREATE TABLE idea_collaborators (
    idea_id     UUID NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    user_id     UUID REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'collaborator', 'viewer')),
    permissions JSONB NOT NULL DEFAULT '{}',
    invited_by  UUID REFERENCES users (id) ON DELETE SET NULL,
    invited_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (idea_id, email)
);
CREATE UNIQUE INDEX idea_collaborators_member ON idea_collaborators (idea_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX idea_collaborators_user ON idea_collaborators (user_id);
CREATE INDEX idea_collaborators_email ON idea_collaborators (lower(email)) WHERE user_id IS NULL;

CREATE TABLE agent_registry (
    id                  UUID PRIMARY KEY,
    agent_type          TEXT NOT NULL UNIQUE,
    description         TEXT NOT NULL DEFAULT '',
    system_instructions TEXT NOT NULL DEFAULT '',
    configuration       JSONB NOT NULL DEFAULT '{}',
    track_record        JSONB NOT NULL DEFAULT '{}',
    status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deprecated', 'testing')),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE agent_versions (
    id                  UUID PRIMARY KEY,
    agent_type          TEXT NOT NULL REFERENCES agent_registry (agent_type) ON DELETE CASCADE,
    version             TEXT NOT NULL,
    artifact_digest     TEXT,
    system_instructions TEXT NOT NULL DEFAULT '',
    configuration       JSONB NOT NULL DEFAULT '{}',
    track_record        JSONB NOT NULL DEFAULT '{}',
    status              TEXT NOT NULL DEFAULT 'testing' CHECK (status IN ('active', 'deprecated', 'testing')),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (agent_type, version)
);

CREATE TABLE agent_sessions (
    id               UUID PRIMARY KEY,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idea_id          UUID NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    agent_type       TEXT NOT NULL,
    agent_version    TEXT,
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'failed')),
    credits_consumed BIGINT NOT NULL DEFAULT 0,
    started_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at         TIMESTAMPTZ
);
CREATE INDEX agent_sessions_idea ON agent_sessions (idea_id);

CREATE TABLE agent_messages (
    id            BIGSERIAL PRIMARY KEY,
    session_id    UUID NOT NULL REFERENCES agent_sessions (id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('user', 'agent', 'system', 'tool')),
    author_id     UUID REFERENCES users (id) ON DELETE SET NULL,
    agent_type    TEXT,
    agent_version TEXT,
    content       TEXT NOT NULL,
    data          JSONB,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX agent_messages_session ON agent_messages (session_id, id);

CREATE TABLE apps (
    id               UUID PRIMARY KEY,
    idea_id          UUID REFERENCES ideas (id) ON DELETE SET NULL,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slug             TEXT NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status           TEXT NOT NULL DEFAULT 'building' CHECK (status IN ('building', 'deployed', 'paused', 'failed')),
    live_version_id  UUID,
    hosting_config   JSONB NOT NULL DEFAULT '{}',
    features_enabled JSONB NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    deployed_at      TIMESTAMPTZ
);
CREATE INDEX apps_user ON apps (user_id);
CREATE INDEX apps_idea ON apps (idea_id);

CREATE TABLE app_versions (
    id               UUID PRIMARY KEY,
    app_id           UUID NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    number           INTEGER NOT NULL,
    component_digest TEXT NOT NULL,
    migrations       JSONB NOT NULL DEFAULT '[]',
    config           JSONB NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (app_id, number)
);
ALTER TABLE apps ADD CONSTRAINT apps_live_version
    FOREIGN KEY (live_version_id) REFERENCES app_versions (id) ON DELETE SET NULL;

-- Every change of a balance is one immutable row here, written in the same transaction as users.credits_balance.
CREATE TABLE credit_ledger (
    id              BIGSERIAL PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('grant', 'purchase', 'usage', 'refund', 'adjustment')),
    amount          BIGINT NOT NULL,
    balance_after   BIGINT NOT NULL CHECK (balance_after >= 0),
    reason          TEXT NOT NULL,
    reference_type  TEXT,
    reference_id    TEXT,
    idempotency_key TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX credit_ledger_user ON credit_ledger (user_id, id DESC);

-- Live events, kept so that a client that reconnects can catch up from the last id it saw.
-- No foreign keys: an event outlives what it was about, and is then simply visible to nobody.
CREATE TABLE events (
    id      BIGSERIAL PRIMARY KEY,
    kind    TEXT NOT NULL,
    idea_id UUID,
    app_id  UUID,
    user_id UUID,
    data    JSONB NOT NULL DEFAULT '{}',
    at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX events_at ON events (at);
