-- Dead letters of the outgoing webhook sink, per subscriber: the events a receiver did not take
-- after every attempt (or refused for good with a 4xx). Operators list them with
-- `omnitrail sink deadletters` and send them again with `omnitrail sink redeliver SUBSCRIBER`.
CREATE TABLE webhook_deadletters (
    deadletter_id bigserial PRIMARY KEY,
    subscriber    text NOT NULL,
    topic         text NOT NULL,
    "partition"   integer NOT NULL,
    "offset"      bigint NOT NULL,
    -- The record key: the timeline is keyed by contact id. Erasure of a contact deletes its rows.
    contact_id    text,
    event_id      text,
    event_type    text,
    -- The exact body that was POSTed (the timeline event as it is on the topic).
    body          bytea NOT NULL,
    attempts      integer NOT NULL,
    last_status   integer,
    last_error    text NOT NULL,
    failed_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- A replayed partition (crash before the offset commit) dead-letters the same record once.
    UNIQUE (subscriber, topic, "partition", "offset")
);
CREATE INDEX webhook_deadletters_subscriber ON webhook_deadletters (subscriber, failed_at);
CREATE INDEX webhook_deadletters_contact ON webhook_deadletters (contact_id);
