-- Console sign-ins, kept server-side so they can end before the cookie expires: sign-out, an admin
-- revoking a colleague's sessions, and a token whose role changed (the session remembers the role it
-- was signed in with and ends when the configuration says otherwise). The cookie stays signed; this
-- row is what makes it still count. `session_hash` is a SHA-256 of the cookie's random nonce, so the
-- table alone signs nobody in; `actor` is the token's fingerprint, never the token.
CREATE TABLE console_sessions (
    session_hash text PRIMARY KEY,
    actor        text NOT NULL,
    role         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX console_sessions_actor ON console_sessions (actor) WHERE revoked_at IS NULL;
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
