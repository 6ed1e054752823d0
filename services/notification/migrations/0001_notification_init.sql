-- Schema of the notification service; business tables arrive with its issue.
SELECT 1;
