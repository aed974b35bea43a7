-- App specs (host/src/spec/): a spec version is a version of the idea's pipeline artifact `spec`
-- (pipeline_artifacts), every one validated before it is stored; ideas.specifications holds the latest.
--   * spec_confirmations: the owner's stage gate. A row says the owner confirmed that version of the
--     idea's spec; the spec is confirmed when its latest version has a row, so a newer version is
--     unconfirmed until confirmed again. The foreign key keeps a confirmation from naming a version
--     that does not exist.

CREATE TABLE spec_confirmations (
    idea_id      UUID NOT NULL,
    artifact     TEXT NOT NULL DEFAULT 'spec' CHECK (artifact = 'spec'),
    version      INTEGER NOT NULL CHECK (version >= 1),
    confirmed_by UUID REFERENCES users (id) ON DELETE SET NULL,
    confirmed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (idea_id, version),
    FOREIGN KEY (idea_id, artifact, version) REFERENCES pipeline_artifacts (idea_id, name, version) ON DELETE CASCADE
);
