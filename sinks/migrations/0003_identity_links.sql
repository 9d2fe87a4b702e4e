-- Identity as recorded links, reversible merges, interactions attached to every customer party,
-- and custom attributes whose definitions are data.
--
-- The model: an identifier row links the identifier to its *home* contact (the contact it was
-- first linked to, with the rule, evidence, source and time) and never moves. A merge is a
-- contact -> contact link (a contact_merges row); ``contacts.merged_into`` is recomputed from the
-- active merge links and always names the final survivor. Unmerge withdraws one merge link
-- (``unmerged_at``) and recomputes: identifiers and interactions never moved, so both contacts are
-- exactly as they were. The primary key on (kind, value) still makes one identifier belong to at
-- most one contact, and a contact resolves to exactly one live survivor.

ALTER TABLE contact_identifiers ADD COLUMN evidence jsonb NOT NULL DEFAULT '{}';
-- Marked shared (e.g. a family phone): links to its home but never merges people.
ALTER TABLE contact_identifiers ADD COLUMN shared boolean NOT NULL DEFAULT false;
-- How many contacts this identifier has joined together; past the configured cap it counts as shared.
ALTER TABLE contact_identifiers ADD COLUMN touched integer NOT NULL DEFAULT 1;
-- Weak-evidence lookups: the same email local part at another domain.
CREATE INDEX contact_identifiers_email_local ON contact_identifiers (split_part(value, '@', 1)) WHERE kind = 'email';

-- Merges made before this migration moved identifiers to the survivor: send each back to the
-- contact it came from (the earliest merge that moved it), so the old merges can be undone too.
UPDATE contact_identifiers ci
   SET contact_id = first_move.merged_id
  FROM (
        SELECT DISTINCT ON (x.kind, x.value) x.kind, x.value, m.merged_id
          FROM contact_merges m, jsonb_to_recordset(m.moved_identifiers) AS x(kind text, value text)
         WHERE m.unmerged_at IS NULL
         ORDER BY x.kind, x.value, m.merged_at
       ) AS first_move
 WHERE ci.kind = first_move.kind AND ci.value = first_move.value;

ALTER TABLE contact_merges ADD COLUMN rule text NOT NULL DEFAULT 'exact';
ALTER TABLE contact_merges ADD COLUMN evidence jsonb NOT NULL DEFAULT '{}';
ALTER TABLE contact_merges ADD COLUMN unmerged_by text;
CREATE INDEX contact_merges_active ON contact_merges (merged_id) WHERE unmerged_at IS NULL;
CREATE INDEX contact_merges_survivor ON contact_merges (survivor_id, merged_at DESC);

-- Reads resolve a survivor's component (itself + everything merged into it).
CREATE INDEX contacts_merged_into ON contacts (merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX contacts_display_name ON contacts (lower(display_name)) WHERE display_name IS NOT NULL;

-- One interaction, every customer party it concerns: each party's contact sees it in its timeline.
-- ``interactions.contact_id`` stays the first party's contact.
CREATE TABLE interaction_contacts (
    interaction_id uuid NOT NULL REFERENCES interactions (interaction_id) ON DELETE CASCADE,
    contact_id     uuid NOT NULL REFERENCES contacts (contact_id),
    occurred_at    timestamptz NOT NULL,
    PRIMARY KEY (interaction_id, contact_id)
);
CREATE INDEX interaction_contacts_timeline ON interaction_contacts (contact_id, occurred_at DESC, interaction_id DESC);
INSERT INTO interaction_contacts (interaction_id, contact_id, occurred_at)
SELECT interaction_id, contact_id, occurred_at FROM interactions;

-- Custom attributes: definitions are rows, so adding one needs neither a migration nor a restart.
CREATE TABLE attribute_definitions (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    type        text NOT NULL CHECK (type IN ('string', 'number', 'boolean', 'date', 'enum')),
    enum_values text[] CHECK ((type = 'enum') = (enum_values IS NOT NULL)),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Values as typed JSON (string, number, boolean; dates as ISO strings), one per contact and name.
CREATE TABLE contact_attributes (
    contact_id uuid NOT NULL REFERENCES contacts (contact_id),
    name       text NOT NULL REFERENCES attribute_definitions (name),
    value      jsonb NOT NULL,
    source     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (contact_id, name)
);
CREATE INDEX contact_attributes_search ON contact_attributes (name, value);
