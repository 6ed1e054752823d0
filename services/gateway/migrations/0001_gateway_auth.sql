-- Users, refresh tokens and the keys both gateway instances sign and decrypt with.
CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    password_hash TEXT        NOT NULL,
    customer_id   TEXT        NOT NULL,
    roles         TEXT[]      NOT NULL DEFAULT '{customer}',
    disabled      BOOLEAN     NOT NULL DEFAULT false,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    username    TEXT        NOT NULL REFERENCES users,
    family_id   TEXT        NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Dev keys are made by the first instance to start; production passes keys in the env.
CREATE TABLE gateway_keys (
    use         TEXT PRIMARY KEY CHECK (use IN ('sig', 'enc')),
    kid         TEXT        NOT NULL,
    private_pem TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
