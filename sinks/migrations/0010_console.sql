-- The console: full-text search inside a timeline, and the audit log of who read which contact.

-- Timeline search must find "não" when staff type "nao" (phones in the field rarely have
-- accents handy) and must work the same for Portuguese and English text. So the document is
-- indexed with the language-neutral `simple` configuration over unaccented, lower-cased words:
-- no stemming (a stemmer for one language mangles the other), exact words, accents ignored.
-- unaccent() is only STABLE (its dictionary could change), so a generated column needs this
-- IMMUTABLE wrapper naming the dictionary explicitly, the documented way to index it.
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE OR REPLACE FUNCTION omnitrail_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;

ALTER TABLE interactions ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('simple'::regconfig, omnitrail_unaccent(
        coalesce(document ->> 'subject', '') || ' ' || coalesce(document ->> 'text', '')))
) STORED;
CREATE INDEX interactions_search ON interactions USING gin (search);

-- Every read or change of a contact's data through the API or the page. `actor` is a
-- fingerprint of the bearer token (never the token), `role` what it was granted.
CREATE TABLE audit_log (
    audit_id   bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor      text NOT NULL,
    role       text NOT NULL,
    action     text NOT NULL,
    contact_id uuid,
    via        text NOT NULL
);
CREATE INDEX audit_log_contact ON audit_log (contact_id, at DESC);
CREATE INDEX audit_log_at ON audit_log (at DESC, audit_id DESC);

-- Staff handling of suggestions: who it is assigned to, and the outcome when staff closed it.
-- Kept apart from `suggestions` (the engine's state, reconciled from the timeline): reads
-- overlay it, so a suggestion staff closed reads as closed with their outcome, and the engine
-- never has to know staff exist. Assignee is a colleague's name or handle, as staff type it.
CREATE TABLE suggestion_handling (
    suggestion_id uuid PRIMARY KEY,
    assignee      text,
    assigned_by   text,
    assigned_at   timestamptz,
    outcome       text,
    closed_by     text,
    closed_at     timestamptz
);
