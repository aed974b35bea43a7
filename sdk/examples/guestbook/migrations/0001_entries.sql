-- The guestbook's one table, in the app's own schema (applied by the platform at deploy:
-- `vibe app deploy guestbook.wasm --name guestbook --migrations migrations/`).
CREATE TABLE entries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    email text,
    message text NOT NULL CHECK (length(message) BETWEEN 1 AND 2000),
    rating integer CHECK (rating BETWEEN 1 AND 5),
    visited_on date,
    created_at timestamptz NOT NULL DEFAULT now()
);
