-- Status callbacks and edits whose target interaction has not landed yet (a delivery receipt can
-- overtake the message it is about). Parked here, in the batch's transaction, and applied in the
-- transaction that inserts the target, so an early status is never lost.
CREATE TABLE parked_updates (
    update_id             uuid PRIMARY KEY,
    target_interaction_id uuid NOT NULL,
    occurred_at           timestamptz NOT NULL,
    document              jsonb NOT NULL,
    parked_at             timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX parked_updates_target ON parked_updates (target_interaction_id);
-- Each batch looks at the last hour of parked updates for targets that landed concurrently.
CREATE INDEX parked_updates_recent ON parked_updates (parked_at);
