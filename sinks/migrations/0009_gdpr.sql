-- GDPR: erasure records (no personal data: keyed hashes of the erased identifiers) and the
-- erased marker on contacts. The erased identifiers' hashes let the pipeline drop a later replay
-- of interactions that predate the erasure (dead-letter replay, re-import, mailbox resync).

ALTER TABLE contacts ADD COLUMN erased_at timestamptz;

CREATE TABLE contact_erasures (
    erasure_id          uuid PRIMARY KEY,
    contact_id          uuid NOT NULL,          -- the survivor the request named (resolved)
    erased_contact_ids  uuid[] NOT NULL,        -- it and every contact merged into it
    identifier_count    int NOT NULL,
    interactions_erased int NOT NULL,
    requested_by        text NOT NULL,          -- role or operator, never the data subject
    erased_at           timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- HMAC-SHA256 (key: OMNITRAIL_GDPR_HASH_KEY) of "kind:value"; the value itself is gone.
CREATE TABLE erased_identifiers (
    identifier_hash text PRIMARY KEY,
    erasure_id      uuid NOT NULL REFERENCES contact_erasures (erasure_id),
    erased_at       timestamptz NOT NULL
);

-- The interactions an erasure deleted (ids are UUIDv5 of channel, our account and the provider's
-- message id: nothing about the person). A provider's retry of one is stamped with a new arrival
-- time, so the pipeline recognises it by id.
CREATE TABLE erased_interactions (
    interaction_id uuid PRIMARY KEY,
    erasure_id     uuid NOT NULL REFERENCES contact_erasures (erasure_id)
);
