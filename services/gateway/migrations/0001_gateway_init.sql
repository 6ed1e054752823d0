-- Schema of the gateway service; business tables arrive with its issue.
SELECT 1;
