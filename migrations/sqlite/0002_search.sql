-- Full-text search over method pages and stories (SQLite FTS5).
--
-- One index holds both, so a query ranks pages and stories together. The
-- rowid says what a row is: a page's id for a page, minus a story's id for a
-- story. Triggers keep the index in step with every write, inside the
-- writer's own transaction: no save path has to remember it, and a save is
-- searchable the moment it commits.
--
-- `unicode61 remove_diacritics 2` folds case and accents (`evaluation`
-- finds `Évaluation`); the prefix index makes `facil*` cheap.

CREATE VIRTUAL TABLE search_index USING fts5(
    title,   -- page or story title
    body,    -- Markdown
    tags,    -- a page's tags (comma separated); empty for a story
    extra,   -- a story's outcome and where it happened; empty for a page
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER pages_search_insert AFTER INSERT ON pages
BEGIN
    INSERT INTO search_index (rowid, title, body, tags, extra)
    VALUES (new.id, new.title, new.body, new.tags, '');
END;

CREATE TRIGGER pages_search_update AFTER UPDATE OF title, body, tags ON pages
BEGIN
    DELETE FROM search_index WHERE rowid = old.id;
    INSERT INTO search_index (rowid, title, body, tags, extra)
    VALUES (new.id, new.title, new.body, new.tags, '');
END;

CREATE TRIGGER pages_search_delete AFTER DELETE ON pages
BEGIN
    DELETE FROM search_index WHERE rowid = old.id;
END;

-- Hidden stories are taken out of the index, so they are never found.
CREATE TRIGGER stories_search_insert AFTER INSERT ON stories WHEN new.hidden = 0
BEGIN
    INSERT INTO search_index (rowid, title, body, tags, extra)
    VALUES (-new.id, new.title, new.body, '', new.outcome || ' ' || new.location);
END;

CREATE TRIGGER stories_search_update AFTER UPDATE OF title, body, outcome, location, hidden ON stories
BEGIN
    DELETE FROM search_index WHERE rowid = -old.id;
    INSERT INTO search_index (rowid, title, body, tags, extra)
    SELECT -new.id, new.title, new.body, '', new.outcome || ' ' || new.location
    WHERE new.hidden = 0;
END;

CREATE TRIGGER stories_search_delete AFTER DELETE ON stories
BEGIN
    DELETE FROM search_index WHERE rowid = -old.id;
END;

-- Rows written before this migration.
INSERT INTO search_index (rowid, title, body, tags, extra)
SELECT id, title, body, tags, '' FROM pages;
INSERT INTO search_index (rowid, title, body, tags, extra)
SELECT -id, title, body, '', outcome || ' ' || location FROM stories WHERE hidden = 0;
