-- Named staff accounts (`omnitrail staff add|list|disable|set-role`): who signs in to the console, so
-- every note, assignment, merge and audit row names a person instead of an API token's fingerprint.
-- `email` (lower-cased) is how a person signs in and how rows name them; `password_hash` is argon2id
-- (argon2-cffi), null for someone who signs in only through OpenID Connect. A disabled account keeps
-- its row (audit rows keep naming it) and can no longer sign in; its console sessions end with it.
CREATE TABLE staff (
    email         text PRIMARY KEY CHECK (email = lower(email)),
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('agent', 'admin')),
    password_hash text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);
