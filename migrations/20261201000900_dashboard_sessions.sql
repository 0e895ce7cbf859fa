-- Dashboard sign-ins: the sha256 of a random session id (the cookie holds
-- the id itself), the API token it was opened with, the CSRF token of its
-- forms, and an expiry computed from bytegate's clock.
CREATE TABLE dashboard_sessions (
    id_sha256  text PRIMARY KEY,
    token_id   bigint NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    csrf       text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX dashboard_sessions_expires_at ON dashboard_sessions (expires_at);
