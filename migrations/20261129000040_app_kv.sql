-- Each app's key-value store (vibe:app/kv): a platform table keyed by app id, read and written only by the host
-- (host/src/apps/kv.rs), never by an app's role.
--   * Why not a table in the app's own schema: the app owns its schema and could write that table with plain SQL,
--     past the key and value size limits and the quota, or break its layout; every key-value call would also take
--     one of the app's few role connections. Here the host binds the app id from the app's capabilities, never from
--     the guest, so an app reaches its own keys only; app roles reach no platform table at all.
--   * Keys are bytes (the guest's UTF-8 string, which may hold NUL, which text may not), compared bytewise: the
--     order is the guest's string order, and a prefix is a key range.
--   * app_kv_usage holds each app's running total (key bytes + value bytes), updated in the same transaction as
--     the entry under a row lock, so the quota holds with many writers and many processes.
--   * Deleting the app deletes its keys.

CREATE TABLE app_kv (
    app_id UUID NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    key    BYTEA NOT NULL,
    value  BYTEA NOT NULL,
    PRIMARY KEY (app_id, key)
);

CREATE TABLE app_kv_usage (
    app_id UUID PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    bytes  BIGINT NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    keys   BIGINT NOT NULL DEFAULT 0 CHECK (keys >= 0)
);
