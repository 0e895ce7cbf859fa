-- The queue (issue 10, hole 7).
--
-- A coalesce key is unique over pending work only (queued or running): equal
-- work arriving while a job waits or runs joins it, but once that job is done
-- or failed the same key queues new work (a reopen at the same head, a base
-- change back and forth, a merge event after a failed merge job).
DROP INDEX jobs_coalesce_key_idx;
CREATE UNIQUE INDEX jobs_pending_coalesce_key_idx ON jobs (coalesce_key)
    WHERE coalesce_key IS NOT NULL AND state IN ('queued', 'running');

-- How often a claim of this job ran out (its worker died or hung): a reclaim
-- counts as an attempt, and a job whose attempts are used up when its lease
-- expires is failed for good instead of being run again.
ALTER TABLE jobs ADD COLUMN lease_expiries INT NOT NULL DEFAULT 0;

-- An authenticated delivery bytegate could not parse is stored and
-- acknowledged (GitLab disables a hook after four failed deliveries in a
-- row); why it could not be parsed is kept here. NULL: parsed.
ALTER TABLE webhook_deliveries ADD COLUMN parse_error TEXT;
