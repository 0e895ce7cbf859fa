-- Publishing the approval decision is two steps: decide (audit rows and the
-- stored decision, committed at once) and then tell the forge. Each decision
-- takes the next number here; the forge step publishes only while its number
-- is still the newest, so a slower, older publish never overwrites a newer one.
ALTER TABLE change_requests
    ADD COLUMN approval_seq BIGINT NOT NULL DEFAULT 0;
