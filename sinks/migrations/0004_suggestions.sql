-- Next-action suggestions: what the suggestions agent remembers of the timeline, the suggestions
-- themselves (latest state; every change is also published to omnitrail.suggestions.v1), and
-- when each contact must next be evaluated because time alone may change its suggestions.

-- One row per interaction the agent saw on the timeline topic, reduced to what the rules need:
-- no identifiers, no bodies, the thread only as a hash. contact_id is the contact named by the
-- event; reads resolve contacts.merged_into, so a merge or unmerge needs no rewrite here.
CREATE TABLE suggestion_activity (
    interaction_id uuid PRIMARY KEY,
    contact_id     uuid NOT NULL,
    channel        text NOT NULL,
    direction      text NOT NULL,
    kind           text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    thread_hash    text
);
CREATE INDEX suggestion_activity_contact ON suggestion_activity (contact_id, occurred_at DESC);
CREATE INDEX suggestion_activity_thread ON suggestion_activity (thread_hash) WHERE thread_hash IS NOT NULL;

CREATE TABLE suggestions (
    suggestion_id uuid PRIMARY KEY,
    contact_id    uuid NOT NULL,
    rule          text NOT NULL,
    status        text NOT NULL CHECK (status IN ('open', 'closed')),
    opened_at     timestamptz NOT NULL,
    closed_at     timestamptz,
    document      jsonb NOT NULL
);
CREATE INDEX suggestions_contact ON suggestions (contact_id, status);
CREATE INDEX suggestions_open ON suggestions (opened_at DESC, suggestion_id DESC) WHERE status = 'open';
CREATE INDEX suggestions_all ON suggestions (opened_at DESC, suggestion_id DESC);

-- The periodic evaluation claims contacts whose next_check_at has passed (by the agent's clock).
CREATE TABLE suggestion_schedule (
    contact_id    uuid PRIMARY KEY,
    next_check_at timestamptz NOT NULL
);
CREATE INDEX suggestion_schedule_due ON suggestion_schedule (next_check_at);
