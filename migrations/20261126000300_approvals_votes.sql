-- Approvals per environment (issue 5): a record says approve, revoke, or that
-- a review requested changes or was dismissed (each cancels an approval and
-- gives the reason shown on the PR). A review's own state is upserted by its
-- id; a comment's records are replaced when it is edited and removed when it
-- is deleted. The approval check's handle and last decision are kept per change request,
-- so the check is edited in place and decisions are audited only on change.

ALTER TABLE approvals DROP CONSTRAINT approvals_state_check;
ALTER TABLE approvals ADD CONSTRAINT approvals_state_check
    CHECK (state IN ('approved', 'revoked', 'changes_requested', 'dismissed'));

CREATE UNIQUE INDEX approvals_review_key ON approvals (change_request_id, source_id)
    WHERE source = 'review';
CREATE INDEX approvals_source_idx ON approvals (change_request_id, source, source_id);

ALTER TABLE change_requests
    ADD COLUMN approval_check_sha    TEXT,
    ADD COLUMN approval_check_handle TEXT,
    -- environment name -> satisfied, as last decided
    ADD COLUMN approval_decision     JSONB NOT NULL DEFAULT '{}'::jsonb;
