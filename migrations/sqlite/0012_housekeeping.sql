-- Page housekeeping (issue 15): deleting and undeleting a page, renaming
-- it, and merging a duplicate into another.
--
-- A deleted page keeps its row, revisions, stories and roster: only
-- `deleted_at` and `deleted_by` say it is gone. While deleted it has no
-- `page_tags` rows (src/pages/db/housekeeping.rs takes them away and puts
-- them back from `pages.tags`), so the tag counts, tag pages and filtered
-- lists leave it out through their own triggers; its rows in the search
-- index go and come back with the flag (below).
ALTER TABLE pages ADD COLUMN deleted_at TEXT;
ALTER TABLE pages ADD COLUMN deleted_by INTEGER REFERENCES users(id);

-- Slugs a page had before a rename (or the slug of a page merged into
-- another): each answers 301 to the page's current slug, forever. One row
-- per old slug, pointing at the page, so a chain of renames A -> B -> C
-- sends A straight to C.
CREATE TABLE page_redirects (
    old_slug   TEXT    PRIMARY KEY,
    page_id    INTEGER NOT NULL REFERENCES pages(id),
    created_at TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX page_redirects_page ON page_redirects(page_id);

-- Deleting or undeleting changes what every list, search, feed and tag
-- page shows: `lists` and `everything` move (src/cache/freshness.rs).
CREATE TRIGGER clock_page_deleted AFTER UPDATE OF deleted_at ON pages
WHEN old.deleted_at IS NOT new.deleted_at
BEGIN
    UPDATE content_clock SET tick = tick + 1, lists = lists + 1, everything = everything + 1;
END;

CREATE TRIGGER pages_search_on_delete AFTER UPDATE OF deleted_at ON pages
WHEN old.deleted_at IS NULL AND new.deleted_at IS NOT NULL
BEGIN
    DELETE FROM search_index WHERE rowid = new.id;
    DELETE FROM search_index WHERE rowid IN (SELECT -id FROM stories WHERE page_id = new.id);
END;

CREATE TRIGGER pages_search_on_undelete AFTER UPDATE OF deleted_at ON pages
WHEN old.deleted_at IS NOT NULL AND new.deleted_at IS NULL
BEGIN
    DELETE FROM search_index WHERE rowid = new.id;
    INSERT INTO search_index (rowid, title, body, tags, extra)
    VALUES (new.id, new.title, new.body, new.tags, '');
    DELETE FROM search_index WHERE rowid IN (SELECT -id FROM stories WHERE page_id = new.id);
    INSERT INTO search_index (rowid, title, body, tags, extra)
    SELECT -id, title, body, '', outcome || ' ' || location FROM stories
    WHERE page_id = new.id AND hidden = 0;
END;

-- A redirect made or dropped: the old slug's kept answers, and (a chain
-- of renames) any kept elsewhere, are stale.
CREATE TRIGGER clock_redirect_insert AFTER INSERT ON page_redirects
BEGIN
    UPDATE content_clock SET tick = tick + 1, everything = everything + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT new.old_slug AS slug);
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT new.old_slug AS slug) s, content_clock c;
END;

CREATE TRIGGER clock_redirect_update AFTER UPDATE ON page_redirects
BEGIN
    UPDATE content_clock SET tick = tick + 1, everything = everything + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT new.old_slug AS slug);
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT new.old_slug AS slug) s, content_clock c;
END;

CREATE TRIGGER clock_redirect_delete AFTER DELETE ON page_redirects
BEGIN
    UPDATE content_clock SET tick = tick + 1, everything = everything + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT old.old_slug AS slug);
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT old.old_slug AS slug) s, content_clock c;
END;

-- A rename changes the page's title and slug, which every list shows.
CREATE TRIGGER clock_page_renamed AFTER UPDATE OF slug ON pages
WHEN old.slug IS NOT new.slug
BEGIN
    UPDATE content_clock SET tick = tick + 1, everything = everything + 1;
END;

-- A deleted page's rows written as they are (`cafe copy` of a site with
-- deleted pages, `cafe import`) stay out of the search index: the index's
-- insert triggers of 0002 now skip them.
DROP TRIGGER pages_search_insert;
CREATE TRIGGER pages_search_insert AFTER INSERT ON pages WHEN new.deleted_at IS NULL
BEGIN
    INSERT INTO search_index (rowid, title, body, tags, extra)
    VALUES (new.id, new.title, new.body, new.tags, '');
END;

DROP TRIGGER stories_search_insert;
CREATE TRIGGER stories_search_insert AFTER INSERT ON stories
WHEN new.hidden = 0
     AND NOT EXISTS (SELECT 1 FROM pages WHERE id = new.page_id AND deleted_at IS NOT NULL)
BEGIN
    INSERT INTO search_index (rowid, title, body, tags, extra)
    VALUES (-new.id, new.title, new.body, '', new.outcome || ' ' || new.location);
END;
