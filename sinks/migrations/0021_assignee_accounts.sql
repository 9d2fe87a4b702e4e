-- Suggestions assigned to staff accounts, and one handling for both sides of a possible duplicate.
--
-- `assignee_id` is the staff account (staff.email, its key) a suggestion is assigned to; reads show
-- the account's current name, so "mine" (assigned to the signed-in account) and the name shown
-- survive a change of name. `assignee` keeps the text typed for deployments without staff accounts
-- (and the account's name at assignment time, for rows whose account was later removed).
ALTER TABLE suggestion_handling ADD COLUMN IF NOT EXISTS assignee_id text;

-- Free-text assignments that name exactly one account, by email or by name, become that account's.
UPDATE suggestion_handling h SET assignee_id = m.email
  FROM (SELECT h2.suggestion_id, min(s.email) AS email
          FROM suggestion_handling h2 JOIN staff s ON s.email = lower(btrim(h2.assignee)) OR s.name = btrim(h2.assignee)
         WHERE h2.assignee_id IS NULL AND h2.assignee IS NOT NULL
         GROUP BY h2.suggestion_id HAVING count(DISTINCT s.email) = 1) m
 WHERE h.suggestion_id = m.suggestion_id;

-- A merge review is one item with a suggestion on each contact: what staff did to one side holds for both.
INSERT INTO suggestion_handling (suggestion_id, assignee, assignee_id, assigned_by, assigned_at, outcome, closed_by, closed_at)
SELECT DISTINCT ON (other.suggestion_id) other.suggestion_id, h.assignee, h.assignee_id, h.assigned_by, h.assigned_at,
       h.outcome, h.closed_by, h.closed_at
  FROM suggestion_handling h
  JOIN suggestions s ON s.suggestion_id = h.suggestion_id AND s.rule = 'merge_review'
  JOIN suggestions other ON other.rule = 'merge_review' AND other.suggestion_id <> s.suggestion_id
   AND other.document ->> 'review_id' = s.document ->> 'review_id'
 ORDER BY other.suggestion_id, h.closed_at DESC NULLS LAST, h.assigned_at DESC NULLS LAST
ON CONFLICT (suggestion_id) DO NOTHING;
