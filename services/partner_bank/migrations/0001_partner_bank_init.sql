-- Schema of the partner_bank service; business tables arrive with its issue.
SELECT 1;
