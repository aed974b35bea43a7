-- What agent plugins keep through their host capabilities (host/src/agents/runtime/capabilities/).
--   * agent_kv: each plugin's key-value store, private to the plugin and the idea. Keyed by the plugin's
--     name, not its version, so state survives a hot swap to a newer version of the same plugin.
--   * pipeline_artifacts: the idea's pipeline artifacts (summary, spec, build report...), every write a new
--     row with the next version; the latest version is the one with the highest number. Agents of
--     different stages meet here. `ideas.specifications` stays the platform's copy of the validated spec.

CREATE TABLE agent_kv (
    plugin_name TEXT NOT NULL,
    idea_id     UUID NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    key         TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 512),
    value       BYTEA NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (plugin_name, idea_id, key)
);
CREATE INDEX agent_kv_idea ON agent_kv (idea_id);

CREATE TABLE pipeline_artifacts (
    idea_id      UUID NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,127}$'),
    version      INTEGER NOT NULL CHECK (version >= 1),
    content_type TEXT NOT NULL CHECK (content_type IN ('json', 'text')),
    content      TEXT NOT NULL,
    -- Who wrote it: the plugin's name and version, or NULL for the platform.
    written_by   TEXT,
    session_id   UUID REFERENCES agent_sessions (id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (idea_id, name, version)
);
