"""Notification Service: SMS/email/push delivery and the dev inbox."""
