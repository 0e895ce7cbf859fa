-- Issue 13: the GitHub App installation of a repository is the GitHub
-- forge's own knowledge; it looks it up (GET /repos/{owner}/{repo}/installation)
-- and caches it per repository. The neutral rollout no longer stores it.

ALTER TABLE rollouts DROP COLUMN installation_id;

-- The last deployment status posted for a stage is read back as a typed
-- state (forge::DeploymentState); the column says which names exist, like
-- every other stored state.
ALTER TABLE rollout_stages
    ADD CONSTRAINT rollout_stages_deployment_state_check
    CHECK (deployment_state IN ('queued', 'in_progress', 'success', 'failure'));
