-- A counter that moves whenever anything a search result shows or is
-- chosen by may have changed: the rows of the index (pages and stories),
-- what results show of them (slug, title, tags, outcome, location), and
-- what filters and ordering read (page_tags, page_id, hidden, updated_at).
--
-- `src/search/cache.rs` keeps recent pages of results only while the
-- counter stands still. Triggers bump it inside the writer's own
-- transaction, so no save path has to remember it, writes from another
-- process (`cafe import`) count too, and a rolled-back write leaves it
-- where it was.

CREATE TABLE search_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO search_generation (id, generation) VALUES (1, 0);

CREATE TRIGGER pages_generation_insert AFTER INSERT ON pages
BEGIN
    UPDATE search_generation SET generation = generation + 1;
END;
CREATE TRIGGER pages_generation_update AFTER UPDATE OF slug, title, body, tags, updated_at ON pages
BEGIN
    UPDATE search_generation SET generation = generation + 1;
END;
CREATE TRIGGER pages_generation_delete AFTER DELETE ON pages
BEGIN
    UPDATE search_generation SET generation = generation + 1;
END;

CREATE TRIGGER stories_generation_insert AFTER INSERT ON stories
BEGIN
    UPDATE search_generation SET generation = generation + 1;
END;
CREATE TRIGGER stories_generation_update
AFTER UPDATE OF page_id, title, body, outcome, location, hidden, updated_at ON stories
BEGIN
    UPDATE search_generation SET generation = generation + 1;
END;
CREATE TRIGGER stories_generation_delete AFTER DELETE ON stories
BEGIN
    UPDATE search_generation SET generation = generation + 1;
END;

CREATE TRIGGER page_tags_generation_insert AFTER INSERT ON page_tags
BEGIN
    UPDATE search_generation SET generation = generation + 1;
END;
CREATE TRIGGER page_tags_generation_update AFTER UPDATE ON page_tags
BEGIN
    UPDATE search_generation SET generation = generation + 1;
END;
CREATE TRIGGER page_tags_generation_delete AFTER DELETE ON page_tags
BEGIN
    UPDATE search_generation SET generation = generation + 1;
END;
