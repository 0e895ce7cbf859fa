-- Rollouts (issue 6): the sticky deploy comment of a rollout, the forge
-- deployment of each stage, what each stage applied, and the stage's lease
-- (a worker that died mid-stage leaves it `running`; after the lease another
-- worker may take it over: the target's advisory lock and history make a
-- second run apply nothing twice).

ALTER TABLE rollouts
    ADD COLUMN comment_id TEXT,
    ADD COLUMN html_url   TEXT;

ALTER TABLE rollout_stages
    ADD COLUMN deployment_id  BIGINT,
    -- The last deployment status posted (reporting is re-synced after a retry).
    ADD COLUMN deployment_state TEXT,
    ADD COLUMN result         JSONB NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN lease_until    TIMESTAMPTZ,
    ADD COLUMN updated_at     TIMESTAMPTZ NOT NULL DEFAULT now();
