-- Issue 18, asking a practitioner (see migrations/sqlite/0019_questions.sql).
-- A question asked in public is a story thread whose outcome is `question`.
ALTER TABLE stories DROP CONSTRAINT IF EXISTS stories_outcome_check;
ALTER TABLE stories ADD CONSTRAINT stories_outcome_check
    CHECK (outcome IN ('success', 'mixed', 'failure', 'too-early', 'question'));

-- Whether members may send this member questions through Cafe.
ALTER TABLE mail_settings ADD COLUMN questions BOOLEAN NOT NULL DEFAULT TRUE;

