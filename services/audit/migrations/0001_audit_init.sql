-- Schema of the audit service; business tables arrive with its issue.
SELECT 1;
