-- Logical backups of target databases (issue 14): one row per pg_dump file,
-- scheduled or manual. `slot` makes a scheduled backup happen once per
-- (environment, database, schedule period) however many replicas run the
-- scheduler: the replica whose INSERT wins takes it.

CREATE TABLE backups (
    id            BIGSERIAL   PRIMARY KEY,
    environment   TEXT        NOT NULL,
    database_name TEXT        NOT NULL,
    kind          TEXT        NOT NULL CHECK (kind IN ('scheduled', 'manual')),
    state         TEXT        NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    slot          BIGINT,
    path          TEXT,
    size_bytes    BIGINT,
    sha256        TEXT,
    error         TEXT,
    created_by    TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    expires_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (environment, database_name, slot)
);

CREATE INDEX backups_expires_at ON backups (expires_at);
