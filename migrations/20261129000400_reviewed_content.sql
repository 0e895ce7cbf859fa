-- Approval integrity (issue 10): what a review saw, byte for byte, and what
-- approvals and deploys are bound to.
--
-- A review snapshot is the set of migration files a review of one head
-- commit read (path, change, sha256 of the bytes), the base commit whose
-- repository config governed it and the migrations folder that config named.
-- Its digest covers paths, changes and content hashes on every forge.
-- Approvals carry the digest they were given for; a rollout deploys exactly
-- the files of one snapshot. Operators' decisions about migrations that
-- reached a branch without a pull request are kept per repository and path.

CREATE TABLE review_snapshots (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_request_id BIGINT NOT NULL REFERENCES change_requests (id) ON DELETE CASCADE,
    head_sha          TEXT NOT NULL,
    base_sha          TEXT NOT NULL,
    migrations_dir    TEXT NOT NULL,
    digest            TEXT NOT NULL,
    -- The forge's time of the head (the event's time): comment approvals bind
    -- to the newest snapshot whose head is not newer than the comment.
    head_at           TIMESTAMPTZ NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT review_snapshots_head_key UNIQUE (change_request_id, head_sha)
);

CREATE TABLE reviewed_files (
    snapshot_id BIGINT NOT NULL REFERENCES review_snapshots (id) ON DELETE CASCADE,
    path        TEXT NOT NULL,
    change      TEXT NOT NULL CHECK (change IN ('added', 'modified', 'removed', 'renamed')),
    sha256      TEXT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    -- False when the review refused to read it (too large): never deployed.
    deployable  BOOLEAN NOT NULL DEFAULT true,
    PRIMARY KEY (snapshot_id, path)
);
CREATE INDEX reviewed_files_content_idx ON reviewed_files (path, sha256);

-- The commit a review was given on (a review of a commit reviewed later is
-- bound once that review has stored its snapshot).
ALTER TABLE approvals ADD COLUMN digest TEXT, ADD COLUMN commit_sha TEXT;

ALTER TABLE rollouts ADD COLUMN snapshot_id BIGINT REFERENCES review_snapshots (id);

CREATE TABLE migration_decisions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    forge       TEXT NOT NULL CHECK (forge IN ('github', 'gitlab')),
    repo        TEXT NOT NULL,
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    -- NULL: every environment.
    environment TEXT,
    decision    TEXT NOT NULL CHECK (decision IN ('apply', 'skip')),
    decided_by  TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX migration_decisions_path_idx ON migration_decisions (forge, repo, path);
