-- The pull-request flow (issue 4): which head a change request is at, so a
-- slow job for an older commit never overwrites newer results; which commit
-- the sticky comment shows; which check is running on which commit; and a
-- digest of the migration files, to tell when they last changed.

ALTER TABLE change_requests
    ADD COLUMN head_at           TIMESTAMPTZ,
    ADD COLUMN comment_sha       TEXT,
    ADD COLUMN migrations_digest TEXT,
    ADD COLUMN check_sha         TEXT,
    ADD COLUMN check_handle      TEXT;

ALTER TABLE review_results
    ADD COLUMN conclusion TEXT CHECK (conclusion IN ('success', 'neutral', 'failure'));

CREATE INDEX review_results_cr_sha_idx ON review_results (change_request_id, head_sha);
