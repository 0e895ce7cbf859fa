-- Schema snapshots (issue 14): the schema of each PostgreSQL target before
-- and after each rollout stage. The deploy comment shows the before→after
-- diff; a "before" that differs from the latest "after" bytegate left on the
-- same environment and database is drift made outside bytegate.

CREATE TABLE stage_schema_snapshots (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rollout_id  BIGINT NOT NULL REFERENCES rollouts (id),
    environment TEXT NOT NULL,
    database    TEXT NOT NULL,
    phase       TEXT NOT NULL CHECK (phase IN ('before', 'after')),
    schema_text TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    taken_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX stage_schema_snapshots_target
    ON stage_schema_snapshots (environment, database, phase, id);
