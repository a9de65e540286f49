-- The content clock: what every kept answer is checked against (the one
-- freshness rule, src/cache/freshness.rs). Triggers move it inside the
-- writer's own transaction, so no save path has to remember it, writes by
-- another process (`cafe import`) count too, and a rolled-back write
-- leaves it where it was. Sessions, throttles and the search index's
-- upkeep touch none of these tables, so they make nothing stale.
--
--   tick        moves on every content write;
--   lists       moves when which methods exist, or their titles or tags,
--               change (what the method lists and their counts show);
--   everything  moves when what every page may show changes: a person's
--               name or block, an indicator's name;
--   page_ticks  holds, per slug, the tick of the last write to what that
--               method's own pages show (its text, stories, replies,
--               roster, protection).
--
-- It replaces `list_generation` and `search_generation`, whose triggers
-- are dropped here.

DROP TRIGGER list_generation_on_page_insert;
DROP TRIGGER list_generation_on_page_delete;
DROP TRIGGER list_generation_on_page_tags_insert;
DROP TRIGGER list_generation_on_page_tags_delete;
DROP TABLE list_generation;
DROP TRIGGER pages_generation_insert;
DROP TRIGGER pages_generation_update;
DROP TRIGGER pages_generation_delete;
DROP TRIGGER stories_generation_insert;
DROP TRIGGER stories_generation_update;
DROP TRIGGER stories_generation_delete;
DROP TRIGGER page_tags_generation_insert;
DROP TRIGGER page_tags_generation_update;
DROP TRIGGER page_tags_generation_delete;
DROP TABLE search_generation;

CREATE TABLE content_clock (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    tick       INTEGER NOT NULL,
    lists      INTEGER NOT NULL,
    everything INTEGER NOT NULL
);
INSERT INTO content_clock (id, tick, lists, everything) VALUES (1, 1, 1, 1);

CREATE TABLE page_ticks (
    slug TEXT    PRIMARY KEY,
    tick INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX page_ticks_by_tick ON page_ticks(tick);

-- Each trigger deletes, then inserts, the page_ticks rows it moves: an
-- INSERT OR REPLACE inside a trigger takes the conflict policy of the
-- statement that fired it, so under an upsert it would fail.

CREATE TRIGGER clock_page_insert AFTER INSERT ON pages
BEGIN
    UPDATE content_clock SET tick = tick + 1, lists = lists + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT new.slug AS slug);
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT new.slug AS slug) s, content_clock c;
END;

CREATE TRIGGER clock_page_update AFTER UPDATE ON pages
BEGIN
    UPDATE content_clock SET tick = tick + 1,
        lists = lists + (old.slug IS NOT new.slug OR old.title IS NOT new.title
                         OR old.tags IS NOT new.tags);
    DELETE FROM page_ticks WHERE slug IN (SELECT old.slug AS slug UNION SELECT new.slug);
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT old.slug AS slug UNION SELECT new.slug) s, content_clock c;
END;

CREATE TRIGGER clock_page_delete AFTER DELETE ON pages
BEGIN
    UPDATE content_clock SET tick = tick + 1, lists = lists + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT old.slug AS slug);
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT old.slug AS slug) s, content_clock c;
END;

CREATE TRIGGER clock_page_tags_insert AFTER INSERT ON page_tags
BEGIN
    UPDATE content_clock SET tick = tick + 1, lists = lists + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT slug FROM pages WHERE id IN (new.page_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT slug FROM pages WHERE id IN (new.page_id)) s, content_clock c;
END;

CREATE TRIGGER clock_page_tags_delete AFTER DELETE ON page_tags
BEGIN
    UPDATE content_clock SET tick = tick + 1, lists = lists + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT slug FROM pages WHERE id IN (old.page_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT slug FROM pages WHERE id IN (old.page_id)) s, content_clock c;
END;

CREATE TRIGGER clock_story_insert AFTER INSERT ON stories
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT slug FROM pages WHERE id IN (new.page_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT slug FROM pages WHERE id IN (new.page_id)) s, content_clock c;
END;

CREATE TRIGGER clock_story_update AFTER UPDATE ON stories
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT slug FROM pages WHERE id IN (old.page_id, new.page_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT slug FROM pages WHERE id IN (old.page_id, new.page_id)) s, content_clock c;
END;

CREATE TRIGGER clock_story_delete AFTER DELETE ON stories
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT slug FROM pages WHERE id IN (old.page_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT slug FROM pages WHERE id IN (old.page_id)) s, content_clock c;
END;

CREATE TRIGGER clock_roster_insert AFTER INSERT ON roster
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT slug FROM pages WHERE id IN (new.page_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT slug FROM pages WHERE id IN (new.page_id)) s, content_clock c;
END;

CREATE TRIGGER clock_roster_update AFTER UPDATE ON roster
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT slug FROM pages WHERE id IN (old.page_id, new.page_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT slug FROM pages WHERE id IN (old.page_id, new.page_id)) s, content_clock c;
END;

CREATE TRIGGER clock_roster_delete AFTER DELETE ON roster
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT slug FROM pages WHERE id IN (old.page_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT slug FROM pages WHERE id IN (old.page_id)) s, content_clock c;
END;

CREATE TRIGGER clock_reply_insert AFTER INSERT ON replies
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT p.slug FROM stories t JOIN pages p ON p.id = t.page_id WHERE t.id IN (new.story_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT p.slug FROM stories t JOIN pages p ON p.id = t.page_id WHERE t.id IN (new.story_id)) s, content_clock c;
END;

CREATE TRIGGER clock_reply_update AFTER UPDATE ON replies
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT p.slug FROM stories t JOIN pages p ON p.id = t.page_id WHERE t.id IN (old.story_id, new.story_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT p.slug FROM stories t JOIN pages p ON p.id = t.page_id WHERE t.id IN (old.story_id, new.story_id)) s, content_clock c;
END;

CREATE TRIGGER clock_reply_delete AFTER DELETE ON replies
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT p.slug FROM stories t JOIN pages p ON p.id = t.page_id WHERE t.id IN (old.story_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT p.slug FROM stories t JOIN pages p ON p.id = t.page_id WHERE t.id IN (old.story_id)) s, content_clock c;
END;

CREATE TRIGGER clock_user_shown AFTER UPDATE OF display_name, blocked ON users
WHEN old.display_name IS NOT new.display_name OR old.blocked IS NOT new.blocked
BEGIN
    UPDATE content_clock SET tick = tick + 1, everything = everything + 1;
END;

CREATE TRIGGER clock_indicator_insert AFTER INSERT ON indicators
BEGIN
    UPDATE content_clock SET tick = tick + 1, everything = everything + 1;
END;

CREATE TRIGGER clock_indicator_update AFTER UPDATE ON indicators
BEGIN
    UPDATE content_clock SET tick = tick + 1, everything = everything + 1;
END;

CREATE TRIGGER clock_indicator_delete AFTER DELETE ON indicators
BEGIN
    UPDATE content_clock SET tick = tick + 1, everything = everything + 1;
END;
