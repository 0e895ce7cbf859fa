-- Outgoing notifications (issue 16, item 6): every attempt to deliver one
-- notification to one receiver. The notification itself is a `notify` job in
-- `jobs` (its payload holds the receiver's name, the delivery id and the
-- event); a receiver's URL and secret stay in the config, never here.

CREATE TABLE notification_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The job that made the attempt (kept when old jobs are pruned).
    job_id      BIGINT REFERENCES jobs (id) ON DELETE SET NULL,
    -- The same for every attempt of one notification to one receiver: the
    -- `X-Bytegate-Delivery` header receivers deduplicate by.
    delivery_id TEXT NOT NULL,
    receiver    TEXT NOT NULL,
    event       TEXT NOT NULL,
    attempt     INT NOT NULL,
    -- delivered: a 2xx answer; retrying: failed, another attempt is queued;
    -- gave_up: failed for good (a refusal, or the last attempt).
    status      TEXT NOT NULL CHECK (status IN ('delivered', 'retrying', 'gave_up')),
    http_status INT,
    error       TEXT,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    at          TIMESTAMPTZ NOT NULL
);

CREATE INDEX notification_attempts_delivery ON notification_attempts (delivery_id, attempt);
CREATE INDEX notification_attempts_receiver ON notification_attempts (receiver, at);
