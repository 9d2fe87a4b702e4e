-- The contacts that make up one person, declared once: `person_includes(c, s)` is true when the contacts row
-- `c` is the survivor `s` itself or a contact merged into it. One hop is enough because `merged_into` always
-- names the final survivor (a merge re-points what was merged into the loser; an unmerge recomputes it from
-- the active links: sinks/merges.py). LANGUAGE sql, IMMUTABLE, not STRICT: PostgreSQL inlines the body, so a
-- query using it is planned exactly as the predicate written out (a BitmapOr of `contacts_pkey` and
-- `contacts_merged_into`), it can stand in a `FOR UPDATE` or `UPDATE` (rechecked on the row's new version),
-- and correlated uses (`person_includes(m, c.contact_id)`) keep their per-row index scans. sinks/person.py.
-- Never redefined with other semantics (a release before the one that did would read through it): a new
-- meaning gets a new name.
CREATE OR REPLACE FUNCTION person_includes(c contacts, person uuid) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT c.contact_id = person OR c.merged_into = person $$;
