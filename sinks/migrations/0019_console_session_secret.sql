-- The key that signs console session cookies when OMNITRAIL_CONSOLE_SESSION_SECRET is unset: 32 random bytes,
-- made by the first console process that needs one and read by every other, so sign-ins survive restarts and
-- work across console processes sharing this database. One row at most. Setting OMNITRAIL_CONSOLE_SESSION_SECRET
-- takes its place (cookies signed with this one no longer count); deleting the row and restarting every console
-- process makes a new one (everyone signs in again).
CREATE TABLE console_session_secret (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    secret     bytea NOT NULL CHECK (length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
