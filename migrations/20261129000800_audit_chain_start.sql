-- Where the audit hash chain starts (issue 11): rows before `first_id` may
-- lack hashes (they predate the chain); from it on a row without a hash is a
-- break. Without this record a superuser could NULL every hash and the chain
-- would "verify" as empty. Written once, here; a missing record makes
-- `bytegate audit verify` treat every row as chained (the strict reading).

CREATE TABLE audit_chain_start (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    first_id BIGINT  NOT NULL
);

-- The first hashed row, else the next row to be written.
INSERT INTO audit_chain_start (first_id)
SELECT COALESCE(
    (SELECT min(id) FROM audit_log WHERE hash IS NOT NULL),
    (SELECT COALESCE(max(id), 0) + 1 FROM audit_log)
);

CREATE TRIGGER audit_chain_start_fixed
    BEFORE UPDATE OR DELETE ON audit_chain_start
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_chain_start_no_truncate
    BEFORE TRUNCATE ON audit_chain_start
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
