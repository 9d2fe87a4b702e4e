-- The review items naming a contact (`GET /api/v1/identity/reviews?contact_id=`, erasure, export) are read
-- by either side of the pair: `contact_a` leads the pair's unique key, `contact_b` had no index, so each
-- such read scanned every item of its status (400,000 items: p50 84 ms, 1 ms with this index;
-- benchmarks/README.md). It also serves the foreign key's check when a contact is deleted.
CREATE INDEX IF NOT EXISTS identity_reviews_contact_b ON identity_reviews (contact_b);
