-- Contacts, identity links, the timeline, and the outbox that makes publishing survive crashes.

CREATE TABLE contacts (
    contact_id   uuid PRIMARY KEY,
    display_name text,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Set when this contact was merged away; always points at the final survivor (one hop).
    merged_into  uuid REFERENCES contacts (contact_id)
);

-- An identifier belongs to at most one contact: the primary key enforces it, whatever the code does.
CREATE TABLE contact_identifiers (
    kind       text NOT NULL,
    value      text NOT NULL,
    contact_id uuid NOT NULL REFERENCES contacts (contact_id),
    rule       text NOT NULL,
    source     text,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (kind, value)
);
CREATE INDEX contact_identifiers_contact ON contact_identifiers (contact_id);

-- Every merge, with what moved, so it can be explained and undone.
CREATE TABLE contact_merges (
    merge_id        uuid PRIMARY KEY,
    survivor_id     uuid NOT NULL REFERENCES contacts (contact_id),
    merged_id       uuid NOT NULL REFERENCES contacts (contact_id),
    cause           text NOT NULL,
    moved_identifiers jsonb NOT NULL,
    merged_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    unmerged_at     timestamptz
);

CREATE TABLE interactions (
    interaction_id  uuid PRIMARY KEY,
    contact_id      uuid NOT NULL REFERENCES contacts (contact_id),
    channel         text NOT NULL,
    direction       text NOT NULL,
    kind            text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    thread_key      text,
    delivery_status text,
    document        jsonb NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX interactions_timeline ON interactions (contact_id, occurred_at DESC, interaction_id DESC);

-- Events written in the same transaction as the rows they describe, published after commit
-- and deleted once the broker acknowledged them: a crash between the two republishes, never loses.
CREATE TABLE timeline_outbox (
    seq   bigserial PRIMARY KEY,
    topic text NOT NULL,
    key   bytea,
    value bytea
);

-- Workers report here; readiness of the pipeline is a fresh heartbeat.
CREATE TABLE pipeline_workers (
    worker_id    text PRIMARY KEY,
    heartbeat_at timestamptz NOT NULL,
    assignment   text NOT NULL DEFAULT ''
);
