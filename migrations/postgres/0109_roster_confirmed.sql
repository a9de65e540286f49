-- Issue 18: rosters that stay true. When the member last said they still
-- use the method: set when they add or update their entry and when they
-- confirm it. An entry older than `--roster-confirm-months` is shown as
-- not confirmed, after the current ones, and its owner is asked "Still
-- using …?". Entries made before this keep their last change's time.
ALTER TABLE roster ADD COLUMN confirmed_at TEXT NOT NULL DEFAULT '';
UPDATE roster SET confirmed_at = updated_at;
