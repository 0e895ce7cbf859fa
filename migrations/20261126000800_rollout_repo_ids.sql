-- Rollouts (issue 6): what a background re-check needs to reach the forge
-- without an event in hand (a GitHub App client needs the installation id).

ALTER TABLE rollouts
    ADD COLUMN repo_id         BIGINT,
    ADD COLUMN installation_id BIGINT;
