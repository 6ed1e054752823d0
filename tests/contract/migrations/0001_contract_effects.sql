-- The state a producer changes and the side effects a consumer applies, for the contract
-- suite: every handled event adds one `effects` row, so a duplicate effect is visible.
CREATE TABLE payments (
    id TEXT PRIMARY KEY
);

CREATE TABLE effects (
    id             BIGSERIAL PRIMARY KEY,
    consumer_group TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    subject        TEXT
);
