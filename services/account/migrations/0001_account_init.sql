-- Schema of the account service; business tables arrive with its issue.
SELECT 1;
