-- OAuth 2.0 refresh tokens of pull connectors (the email connector's Gmail and Microsoft 365 accounts),
-- next to their checkpoints: the first comes from `omnitrail connector email authorize ACCOUNT`, and a
-- provider that rotates them on use replaces the row, so a restart needs no new consent. A refresh
-- token is a credential: the database's access control guards it like the checkpoints' mailbox.
CREATE TABLE oauth_refresh_tokens (
    connector     text NOT NULL,
    account       text NOT NULL,
    refresh_token text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (connector, account)
);
