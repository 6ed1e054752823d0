-- Every notification the service sent (or failed to send), and the dev channels' inbox.
CREATE TABLE IF NOT EXISTS notifications (
    id                  BIGSERIAL PRIMARY KEY,
    customer_id         TEXT        NOT NULL,
    type                TEXT        NOT NULL,
    channel             TEXT        NOT NULL CHECK (channel IN ('sms', 'email', 'push')),
    recipient           TEXT,
    subject             TEXT        NOT NULL,
    -- One-time codes are redacted here: only the delivered message ever carries them.
    body                TEXT        NOT NULL,
    status              TEXT        NOT NULL CHECK (status IN ('SENT', 'FAILED')),
    provider_message_id TEXT,
    error               TEXT,
    source_event_id     TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS notifications_customer ON notifications (customer_id, id DESC);
-- One notification per channel per consumed event, whatever the redelivery.
CREATE UNIQUE INDEX IF NOT EXISTS notifications_event_channel
    ON notifications (source_event_id, channel) WHERE source_event_id IS NOT NULL;

-- What the development/test channels "delivered": read through GET /dev/inbox.
CREATE TABLE IF NOT EXISTS dev_inbox (
    id         BIGSERIAL PRIMARY KEY,
    channel    TEXT        NOT NULL,
    recipient  TEXT        NOT NULL,
    subject    TEXT        NOT NULL,
    body       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dev_inbox_recipient ON dev_inbox (recipient, id DESC);
