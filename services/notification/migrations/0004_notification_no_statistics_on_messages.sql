-- Message texts are shown, never searched: no statistics for the planner to keep on them.
ALTER TABLE notifications ALTER COLUMN subject SET STATISTICS 0;
ALTER TABLE notifications ALTER COLUMN body SET STATISTICS 0;
ALTER TABLE dev_inbox ALTER COLUMN subject SET STATISTICS 0;
ALTER TABLE dev_inbox ALTER COLUMN body SET STATISTICS 0;
