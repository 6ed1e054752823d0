-- Schema of the risk service; business tables arrive with its issue.
SELECT 1;
