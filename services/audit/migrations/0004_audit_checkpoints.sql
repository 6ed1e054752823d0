-- Signed checkpoints of the chain's head (every N entries and on demand). A checkpoint names
-- an entry and its hash and is signed with a key the database does not hold, so deleting
-- the newest rows or rehashing the log no longer fits a checkpoint: GET /audit/verify says so.
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    id         BIGSERIAL   PRIMARY KEY,
    head_id    BIGINT      NOT NULL CHECK (head_id > 0),
    head_hash  TEXT        NOT NULL CHECK (head_hash ~ '^[0-9a-f]{64}$'),
    signature  TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS audit_checkpoints_head ON audit_checkpoints (head_id);

DROP TRIGGER IF EXISTS audit_checkpoints_append_only ON audit_checkpoints;
CREATE TRIGGER audit_checkpoints_append_only
    BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
