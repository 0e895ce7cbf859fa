-- API tokens (issue 16): bearer tokens for the REST API and the dashboard.
-- Only the SHA-256 of a secret is kept (the secret is 256 random bits, shown
-- once at creation: a fast hash is enough, nothing to brute-force). A revoked
-- token keeps its row (revoked_at set) so the audit trail's actor names stay
-- explained; a live name is unique.

CREATE TABLE api_tokens (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT        NOT NULL CHECK (name <> ''),
    scope         TEXT        NOT NULL CHECK (scope IN ('read', 'admin')),
    secret_sha256 TEXT        NOT NULL UNIQUE,
    created_by    TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);

CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;
