-- Builds: a confirmed spec of an idea becoming a tested, deployed app version (host/src/build).
-- A build's row is its report: the stages it went through, every compile attempt, the test report,
-- the credits it cost and how it ended. At most one build of an idea is queued or running at a time
-- (the partial unique index): a second request is refused rather than racing the first one's deploy.
CREATE TABLE builds (
    id               UUID PRIMARY KEY,
    idea_id          UUID NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id           UUID REFERENCES apps (id) ON DELETE SET NULL,
    spec_version     INTEGER NOT NULL,
    spec             JSONB NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    stage            TEXT NOT NULL DEFAULT 'queued',
    stages           JSONB NOT NULL DEFAULT '[]',
    attempts         JSONB NOT NULL DEFAULT '[]',
    test_report      JSONB,
    reservation_id   UUID,
    credits_charged  BIGINT NOT NULL DEFAULT 0,
    version_number   INTEGER,
    source_commit    TEXT,
    error            TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ
);
CREATE INDEX builds_idea ON builds (idea_id, created_at DESC);
CREATE INDEX builds_app ON builds (app_id, created_at DESC);
CREATE UNIQUE INDEX builds_one_active_per_idea ON builds (idea_id) WHERE status IN ('queued', 'running');

-- A version made by a build points at it: its spec, code (the app's repository) and test report.
ALTER TABLE app_versions ADD COLUMN build_id UUID REFERENCES builds (id) ON DELETE SET NULL;
-- Health checks of live apps: the last result, so a change (healthy -> failing) notifies once.
ALTER TABLE apps ADD COLUMN health TEXT NOT NULL DEFAULT 'unknown' CHECK (health IN ('unknown', 'healthy', 'failing'));
ALTER TABLE apps ADD COLUMN health_checked_at TIMESTAMPTZ;
