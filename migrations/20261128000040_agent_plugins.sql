-- Agent plugins: publishers' signing keys, signed plugin packages, the routing of each agent type to plugin
-- versions (with its history, for rollback), and a record of every call.
--   * agent_registry keeps one row per agent type (made on the first publish that serves it); it now also
--     names the routing revision in force.
--   * agent_versions keeps one row per agent type and plugin version, named `<plugin>@<semver>` (the name
--     routing tables and agent_sessions.agent_version use); plugin_version_id links it to its package.
--     Its status says whether it is routed (active), published but unrouted (testing) or withdrawn (deprecated).
--   * A plugin's name belongs to the account that first published it; only that account publishes new versions.
--   * Routing revisions are never rewritten: a change or a rollback appends one. `parent` is the revision a
--     rollback from this one restores, so rolling back twice undoes two changes.
--   * Call records carry no foreign keys: a track record outlives the sessions it was measured on.

CREATE TABLE publisher_keys (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    public_key BYTEA NOT NULL UNIQUE CHECK (length(public_key) = 32),
    label      TEXT NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);
CREATE INDEX publisher_keys_user ON publisher_keys (user_id);

CREATE TABLE plugins (
    name         TEXT PRIMARY KEY CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$'),
    -- Published plugins may be in use: their publisher's account cannot be deleted from under them.
    publisher_id UUID NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE plugin_versions (
    id           UUID PRIMARY KEY,
    plugin_name  TEXT NOT NULL REFERENCES plugins (name) ON DELETE CASCADE,
    version      TEXT NOT NULL CHECK (length(version) BETWEEN 5 AND 64),
    -- sha256 of the component (or Extism module) bytes: the package's identity and its artifact's name.
    digest       TEXT NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
    kind         TEXT NOT NULL CHECK (kind IN ('component', 'extism')),
    wit_package  TEXT NOT NULL,
    manifest     JSONB NOT NULL,
    signature    BYTEA NOT NULL CHECK (length(signature) = 64),
    key_id       UUID NOT NULL REFERENCES publisher_keys (id) ON DELETE RESTRICT,
    -- What the component said about itself when it was checked (name, version, agent types, capabilities).
    description  JSONB NOT NULL DEFAULT '{}',
    approval     TEXT NOT NULL CHECK (approval IN ('approved', 'pending')),
    -- What waits for (or got) an operator's approval: capabilities beyond the defaults, larger limits.
    approval_reasons JSONB NOT NULL DEFAULT '[]',
    approved_by  UUID REFERENCES users (id) ON DELETE SET NULL,
    approved_at  TIMESTAMPTZ,
    published_by UUID NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (plugin_name, version)
);

ALTER TABLE agent_versions
    ADD COLUMN plugin_version_id UUID REFERENCES plugin_versions (id) ON DELETE CASCADE;
CREATE INDEX agent_versions_plugin_version ON agent_versions (plugin_version_id);

CREATE TABLE agent_routing_revisions (
    agent_type TEXT NOT NULL REFERENCES agent_registry (agent_type) ON DELETE CASCADE,
    revision   INTEGER NOT NULL CHECK (revision > 0),
    parent     INTEGER,
    kind       TEXT NOT NULL CHECK (kind IN ('set', 'rollback')),
    -- {"<plugin>@<semver>": weight, …}; weights are relative, at least one positive.
    weights    JSONB NOT NULL,
    changed_by UUID REFERENCES users (id) ON DELETE SET NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_type, revision)
);

ALTER TABLE agent_registry ADD COLUMN routing_revision INTEGER;

CREATE TABLE agent_calls (
    id            BIGSERIAL PRIMARY KEY,
    agent_type    TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    session_id    UUID,
    outcome       TEXT NOT NULL CHECK (outcome IN ('ok', 'error')),
    -- The kind of failure (a limit hit, a trap, a refused capability, …) when the outcome is an error.
    error_kind    TEXT,
    latency_us    BIGINT NOT NULL CHECK (latency_us >= 0),
    fuel          BIGINT NOT NULL DEFAULT 0,
    credits       BIGINT NOT NULL DEFAULT 0,
    at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX agent_calls_version ON agent_calls (agent_type, agent_version, id);
