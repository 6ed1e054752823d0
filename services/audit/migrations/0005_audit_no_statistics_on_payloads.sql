-- The entry's data and its chain hashes are read back, never searched by value (event_id and
-- hash are unique: the planner knows one row matches without statistics). ANALYZE of a
-- growing log spent most of its CPU on them, in bursts taken from the payment path.
ALTER TABLE audit_log ALTER COLUMN data SET STATISTICS 0;
ALTER TABLE audit_log ALTER COLUMN hash SET STATISTICS 0;
ALTER TABLE audit_log ALTER COLUMN prev_hash SET STATISTICS 0;
ALTER TABLE audit_log ALTER COLUMN event_id SET STATISTICS 0;
