-- A member's tag watches (neither a page nor a member), found without
-- reading their page watches: the following rules look them up for every
-- event they check (src/follow/db.rs, WATCHED).
CREATE INDEX watches_tag_watches ON watches (user_id) WHERE page_id IS NULL AND member_id IS NULL;

-- The watches a member began after a given event: what a count brought up
-- to date reads (src/follow/db.rs, mine).
CREATE INDEX watches_since ON watches (user_id, since_event);
