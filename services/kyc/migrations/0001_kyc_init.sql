-- Schema of the kyc service; business tables arrive with its issue.
SELECT 1;
