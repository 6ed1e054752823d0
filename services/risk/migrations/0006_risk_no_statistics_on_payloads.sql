-- Why an assessment decided as it did is kept for people and never searched: no statistics
-- for the planner to keep on it (ANALYZE of the growing history spent its CPU there).
ALTER TABLE assessments ALTER COLUMN reasons SET STATISTICS 0;
ALTER TABLE assessments ALTER COLUMN factors SET STATISTICS 0;
