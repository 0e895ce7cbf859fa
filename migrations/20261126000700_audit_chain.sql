-- Tamper-evident audit trail (issue 6): each row carries the hash of the row
-- before it and its own hash, sha256(prev_hash || "\n" || canonical content),
-- computed by bytegate when it appends (under a transaction-level advisory
-- lock, so the chain follows id order). Rows from before this migration have
-- no hash; the chain starts at the first row that has one. UPDATE, DELETE and
-- TRUNCATE are refused; a superuser can still disable the trigger, which is
-- what `bytegate audit verify` (store::audit::verify_chain) is for.

ALTER TABLE audit_log
    ADD COLUMN prev_hash TEXT,
    ADD COLUMN hash      TEXT;

CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
