-- bytegate meta database: deliveries, job queue, change requests, review
-- results, approvals, rollouts, audit trail. Forward only.

CREATE TABLE webhook_deliveries (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    forge        TEXT NOT NULL CHECK (forge IN ('github', 'gitlab')),
    delivery_id  TEXT NOT NULL,
    event        TEXT NOT NULL,
    action       TEXT,
    repo         TEXT,
    payload      JSONB NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_forge_delivery_key UNIQUE (forge, delivery_id)
);

CREATE TABLE jobs (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT NOT NULL,
    delivery_id      BIGINT REFERENCES webhook_deliveries (id) ON DELETE SET NULL,
    -- Semantically equal work (same repo, PR, head sha, event kind) shares a key,
    -- so duplicate events under different delivery ids queue one job.
    coalesce_key     TEXT,
    payload          JSONB NOT NULL DEFAULT '{}'::jsonb,
    state            TEXT NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts         INT NOT NULL DEFAULT 0,
    max_attempts     INT NOT NULL DEFAULT 5,
    run_after        TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_expires_at TIMESTAMPTZ,
    locked_by        TEXT,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ
);
CREATE INDEX jobs_claimable_idx ON jobs (run_after) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_delivery_idx ON jobs (delivery_id);
CREATE UNIQUE INDEX jobs_coalesce_key_idx ON jobs (coalesce_key) WHERE coalesce_key IS NOT NULL;

CREATE TABLE change_requests (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    forge       TEXT NOT NULL CHECK (forge IN ('github', 'gitlab')),
    repo        TEXT NOT NULL,
    number      BIGINT NOT NULL,
    title       TEXT NOT NULL DEFAULT '',
    author      TEXT NOT NULL DEFAULT '',
    head_sha    TEXT NOT NULL,
    base_ref    TEXT NOT NULL DEFAULT '',
    is_fork     BOOLEAN NOT NULL DEFAULT false,
    state       TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed', 'merged')),
    merge_sha   TEXT,
    -- Time of the last commit that changed migrations: older approvals are stale.
    migrations_changed_at TIMESTAMPTZ,
    comment_id  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT change_requests_pr_key UNIQUE (forge, repo, number)
);

CREATE TABLE review_results (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_request_id BIGINT NOT NULL REFERENCES change_requests (id) ON DELETE CASCADE,
    head_sha          TEXT NOT NULL,
    environment       TEXT,
    errors            INT NOT NULL DEFAULT 0,
    warnings          INT NOT NULL DEFAULT 0,
    infos             INT NOT NULL DEFAULT 0,
    risk_level        TEXT NOT NULL CHECK (risk_level IN ('low', 'medium', 'high')),
    report            JSONB NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX review_results_cr_idx ON review_results (change_request_id, created_at);

CREATE TABLE approvals (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_request_id BIGINT NOT NULL REFERENCES change_requests (id) ON DELETE CASCADE,
    environment       TEXT,          -- NULL: every environment
    user_login        TEXT NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('review', 'comment', 'forge')),
    source_id         TEXT,          -- review or comment id, so edits and deletions find it
    state             TEXT NOT NULL CHECK (state IN ('approved', 'revoked')),
    at                TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX approvals_cr_idx ON approvals (change_request_id, user_login, at);

CREATE TABLE rollouts (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_request_id BIGINT NOT NULL REFERENCES change_requests (id) ON DELETE CASCADE,
    merge_sha         TEXT NOT NULL,
    state             TEXT NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'running', 'waiting', 'succeeded', 'failed')),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A replayed merge event must not create a second rollout.
    CONSTRAINT rollouts_change_request_key UNIQUE (change_request_id)
);

CREATE TABLE rollout_stages (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rollout_id   BIGINT NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    position     INT NOT NULL,
    environment  TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'waiting', 'running', 'succeeded', 'failed', 'skipped')),
    waiting_for  TEXT,
    started_at   TIMESTAMPTZ,
    finished_at  TIMESTAMPTZ,
    error        TEXT,
    CONSTRAINT rollout_stages_position_key UNIQUE (rollout_id, position)
);

CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    forge       TEXT,
    repo        TEXT,
    number      BIGINT,
    environment TEXT,
    detail      JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_pr_idx ON audit_log (forge, repo, number, at);
