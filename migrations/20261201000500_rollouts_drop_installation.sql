-- Issue 13: the GitHub App installation of a repository is the GitHub
-- forge's own knowledge; it looks it up (GET /repos/{owner}/{repo}/installation)
-- and caches it per repository. The neutral rollout no longer stores it.

ALTER TABLE rollouts DROP COLUMN installation_id;
