-- Prior backups of data changes (issue 14): each UPDATE/DELETE a deploy
-- backed up on a target, where the copy is (schema bytegate_backup on that
-- target), and until when it is kept. Rollback restores from these rows;
-- the cleaner drops expired copies and marks them dropped.

CREATE TABLE dml_backups (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rollout_id       BIGINT REFERENCES rollouts (id),
    environment      TEXT NOT NULL,
    database         TEXT NOT NULL,
    version          TEXT NOT NULL,
    path             TEXT NOT NULL,
    statement_number INT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('update', 'delete')),
    source_table     TEXT NOT NULL,
    backup_table     TEXT NOT NULL,
    row_count        BIGINT NOT NULL,
    primary_key      TEXT[] NOT NULL,
    columns          TEXT[] NOT NULL,
    assigned         TEXT[] NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    restored_at      TIMESTAMPTZ,
    dropped_at       TIMESTAMPTZ
);

CREATE INDEX dml_backups_target ON dml_backups (environment, database, version);
CREATE INDEX dml_backups_expiry ON dml_backups (expires_at) WHERE dropped_at IS NULL;

-- A stage whose change was rolled back (`/bytebase rollback ENV`): done with,
-- never deployed again by the rollout on its own.
ALTER TABLE rollout_stages DROP CONSTRAINT rollout_stages_state_check;
ALTER TABLE rollout_stages ADD CONSTRAINT rollout_stages_state_check
    CHECK (state IN ('pending', 'waiting', 'running', 'succeeded', 'failed', 'skipped', 'rolled_back'));
