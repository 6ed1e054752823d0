-- Schema of the confirm service; business tables arrive with its issue.
SELECT 1;
