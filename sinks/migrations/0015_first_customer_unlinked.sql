-- An interaction's first customer is its row's `contact_id`; `interaction_contacts` now links only its
-- other customers (a second recipient, Cc). The link that repeated the first customer cost the database
-- ~15 µs of every interaction's insert (a row, two keys, two index entries) and made the longest
-- timelines semi-join all their links before ordering them (benchmarks/README.md).
--
-- Readers of this release read both forms (the row's contact and the links, once each), so they run on a
-- database before or after this migration. Readers of the previous release read only the links: upgrade
-- every process serving /api/v1 and the console first, then migrate, then the workers
-- (docs/operations.md, "Upgrading to migration 0015").
DELETE FROM interaction_contacts ic
 USING interactions i
 WHERE ic.interaction_id = i.interaction_id AND ic.contact_id = i.contact_id;
