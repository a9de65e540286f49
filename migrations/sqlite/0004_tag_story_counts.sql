-- Visible stories per page tag, kept by triggers, so the indicator table's
-- coverage reads a few hundred rows instead of joining every story with the
-- tags of its page on each request (about 30 ms with 100,000 pages).
--
-- A story counts for each tag of its page while it is not hidden (the
-- definition the coverage query used: stories JOIN page_tags WHERE hidden = 0).
-- The count moves when a story is told, hidden or shown again, moved or
-- deleted, and when its page's tags change (a save deletes the page's
-- page_tags rows and inserts the new ones).

CREATE TABLE tag_story_counts (
    tag     TEXT    PRIMARY KEY,
    stories INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO tag_story_counts (tag, stories)
SELECT t.tag, count(*) FROM stories s JOIN page_tags t ON t.page_id = s.page_id
WHERE s.hidden = 0 GROUP BY t.tag;

CREATE TRIGGER stories_counted_on_insert AFTER INSERT ON stories WHEN new.hidden = 0
BEGIN
    INSERT INTO tag_story_counts (tag, stories)
    SELECT tag, 1 FROM page_tags WHERE page_id = new.page_id
    ON CONFLICT (tag) DO UPDATE SET stories = stories + 1;
END;

CREATE TRIGGER stories_counted_on_update AFTER UPDATE OF hidden, page_id ON stories
WHEN (old.hidden = 0) <> (new.hidden = 0) OR old.page_id <> new.page_id
BEGIN
    UPDATE tag_story_counts SET stories = stories - 1
    WHERE old.hidden = 0 AND tag IN (SELECT tag FROM page_tags WHERE page_id = old.page_id);
    INSERT INTO tag_story_counts (tag, stories)
    SELECT tag, 1 FROM page_tags WHERE new.hidden = 0 AND page_id = new.page_id
    ON CONFLICT (tag) DO UPDATE SET stories = stories + 1;
    DELETE FROM tag_story_counts WHERE stories <= 0
        AND tag IN (SELECT tag FROM page_tags WHERE page_id = old.page_id);
END;

CREATE TRIGGER stories_counted_on_delete AFTER DELETE ON stories WHEN old.hidden = 0
BEGIN
    UPDATE tag_story_counts SET stories = stories - 1
    WHERE tag IN (SELECT tag FROM page_tags WHERE page_id = old.page_id);
    DELETE FROM tag_story_counts WHERE stories <= 0
        AND tag IN (SELECT tag FROM page_tags WHERE page_id = old.page_id);
END;

CREATE TRIGGER page_tags_story_counted_on_insert AFTER INSERT ON page_tags
BEGIN
    INSERT INTO tag_story_counts (tag, stories)
    SELECT new.tag, n FROM (SELECT count(*) AS n FROM stories
                            WHERE page_id = new.page_id AND hidden = 0)
    WHERE n > 0
    ON CONFLICT (tag) DO UPDATE SET stories = stories + excluded.stories;
END;

CREATE TRIGGER page_tags_story_counted_on_delete AFTER DELETE ON page_tags
BEGIN
    UPDATE tag_story_counts SET stories = stories - (SELECT count(*) FROM stories
                                                     WHERE page_id = old.page_id AND hidden = 0)
    WHERE tag = old.tag;
    DELETE FROM tag_story_counts WHERE tag = old.tag AND stories <= 0;
END;

-- A number that grows whenever the method list's totals and facet counts
-- may change (a page is created or deleted, or a page's tags change), so
-- Cafe can keep those counts in memory and tell when they are stale
-- without counting again.
CREATE TABLE list_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO list_generation (id, n) VALUES (1, 0);

CREATE TRIGGER list_generation_on_page_insert AFTER INSERT ON pages
BEGIN UPDATE list_generation SET n = n + 1; END;
CREATE TRIGGER list_generation_on_page_delete AFTER DELETE ON pages
BEGIN UPDATE list_generation SET n = n + 1; END;
CREATE TRIGGER list_generation_on_page_tags_insert AFTER INSERT ON page_tags
BEGIN UPDATE list_generation SET n = n + 1; END;
CREATE TRIGGER list_generation_on_page_tags_delete AFTER DELETE ON page_tags
BEGIN UPDATE list_generation SET n = n + 1; END;
