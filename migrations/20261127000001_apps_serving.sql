-- Serving apps: per-request analytics, page views reported by the Vibe Wrapper's beacon, each app's log,
-- and the platform's shared secrets.
--   * Analytics and log rows are written in batches off the request path; a batch drops the rows of an app
--     deleted meanwhile (see host/src/apps/analytics.rs), so the foreign keys never fail a batch.
--   * platform_secrets holds secrets every vibe process on this database must agree on (the key app role
--     passwords are derived from), so that a CLI deploy and a running server reach app data alike. Only the
--     platform role can read it: app roles reach no platform table.

CREATE TABLE app_requests (
    id          BIGSERIAL PRIMARY KEY,
    app_id      UUID NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    version_id  UUID,
    request_id  TEXT NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      SMALLINT NOT NULL,
    duration_us BIGINT NOT NULL,
    cpu_ms      BIGINT,
    fuel        BIGINT,
    -- The runtime's failure code (a limit hit, a trap) when the app's own answer was not passed on.
    failure     TEXT,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX app_requests_app_at ON app_requests (app_id, at);

CREATE TABLE app_page_views (
    id       BIGSERIAL PRIMARY KEY,
    app_id   UUID NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    path     TEXT NOT NULL,
    referrer TEXT NOT NULL DEFAULT '',
    load_ms  INTEGER,
    at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX app_page_views_app_at ON app_page_views (app_id, at);

CREATE TABLE app_logs (
    id         BIGSERIAL PRIMARY KEY,
    app_id     UUID NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    request_id TEXT NOT NULL DEFAULT '',
    source     TEXT NOT NULL CHECK (source IN ('app', 'stdout', 'stderr', 'runtime', 'platform')),
    level      TEXT NOT NULL CHECK (level IN ('trace', 'debug', 'info', 'warn', 'error')),
    message    TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX app_logs_app ON app_logs (app_id, id);

CREATE TABLE platform_secrets (
    name       TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
