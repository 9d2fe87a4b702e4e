-- Shared tables several features build on: pull-connector checkpoints, consent with history,
-- and identity review items (what staff must decide instead of an automatic merge).

-- Where each pull connector resumes, per account and scope (IMAP: a folder; Telegram: the bot).
-- Written only after the broker acknowledged everything up to the recorded position.
CREATE TABLE connector_checkpoints (
    connector  text NOT NULL,
    account    text NOT NULL,
    scope      text NOT NULL,
    state      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (connector, account, scope)
);

-- Consent per contact and purpose (e.g. marketing, profiling), with history: rows are only
-- added; the current state of a purpose is its latest row. No row: nothing recorded.
CREATE TABLE contact_consents (
    consent_id  bigserial PRIMARY KEY,
    contact_id  uuid NOT NULL REFERENCES contacts (contact_id),
    purpose     text NOT NULL,
    granted     boolean NOT NULL,
    source      text NOT NULL,
    recorded_by text,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX contact_consents_current ON contact_consents (contact_id, purpose, recorded_at DESC, consent_id DESC);

-- Identity review items: weak evidence (same name, same local part at another domain, phone
-- spelling pitfalls) never merges by itself; staff accept (merge) or reject it.
CREATE TABLE identity_reviews (
    review_id  uuid PRIMARY KEY,
    contact_a  uuid NOT NULL REFERENCES contacts (contact_id),
    contact_b  uuid NOT NULL REFERENCES contacts (contact_id),
    rule       text NOT NULL,
    evidence   jsonb NOT NULL DEFAULT '{}',
    status     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'rejected')),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    decided_at timestamptz,
    decided_by text,
    CHECK (contact_a < contact_b),
    UNIQUE (contact_a, contact_b, rule)
);
CREATE INDEX identity_reviews_open ON identity_reviews (status, created_at) WHERE status = 'open';
