-- Page housekeeping (issue 15), as migrations/sqlite/0012_housekeeping.sql
-- does on SQLite: the deleted flag, the old slugs of renamed and merged
-- pages, the search index following the flag, and the content clock.
ALTER TABLE pages ADD COLUMN deleted_at TEXT;
ALTER TABLE pages ADD COLUMN deleted_by BIGINT REFERENCES users(id);

CREATE TABLE page_redirects (
    old_slug   TEXT   PRIMARY KEY,
    page_id    BIGINT NOT NULL REFERENCES pages(id),
    created_at TEXT   NOT NULL
);
CREATE INDEX page_redirects_page ON page_redirects (page_id);

CREATE FUNCTION cafe_page_deleted_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cafe_touch(ARRAY[NEW.slug], true, true);
    IF NEW.deleted_at IS NOT NULL THEN
        DELETE FROM search_index WHERE key = NEW.id
            OR key IN (SELECT -id FROM stories WHERE page_id = NEW.id);
    ELSE
        DELETE FROM search_index WHERE key = NEW.id
            OR key IN (SELECT -id FROM stories WHERE page_id = NEW.id);
        INSERT INTO search_index (key, title, body, tags, extra, document)
        VALUES (NEW.id, NEW.title, NEW.body, NEW.tags, '',
                cafe_document(NEW.title, NEW.body, NEW.tags, ''));
        INSERT INTO search_index (key, title, body, tags, extra, document)
        SELECT -s.id, s.title, s.body, '', s.outcome || ' ' || s.location,
               cafe_document(s.title, s.body, '', s.outcome || ' ' || s.location)
        FROM stories s WHERE s.page_id = NEW.id AND NOT s.hidden;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER pages_deleted_changed AFTER UPDATE OF deleted_at ON pages
    FOR EACH ROW WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION cafe_page_deleted_changed();

CREATE FUNCTION cafe_page_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cafe_touch(ARRAY[OLD.slug, NEW.slug], true, true);
    RETURN NEW;
END $$;
CREATE TRIGGER pages_renamed AFTER UPDATE OF slug ON pages
    FOR EACH ROW WHEN (OLD.slug IS DISTINCT FROM NEW.slug)
    EXECUTE FUNCTION cafe_page_renamed();

CREATE FUNCTION cafe_redirects_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM cafe_touch(ARRAY[OLD.old_slug], true, true);
        RETURN OLD;
    END IF;
    PERFORM cafe_touch(ARRAY[NEW.old_slug], true, true);
    RETURN NEW;
END $$;
CREATE TRIGGER page_redirects_changed AFTER INSERT OR UPDATE OR DELETE ON page_redirects
    FOR EACH ROW EXECUTE FUNCTION cafe_redirects_changed();
CREATE CONSTRAINT TRIGGER page_redirects_flush_at_commit AFTER INSERT OR UPDATE OR DELETE ON page_redirects
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (cafe_first_content_write())
    EXECUTE FUNCTION cafe_flush_at_commit();

-- A deleted page's rows written as they are (`cafe copy` with the
-- deriving triggers on) stay out of the search index. Named to fire after
-- `pages_changed` and `stories_changed` (PostgreSQL fires a table's
-- triggers for one event in the order of their names).
CREATE FUNCTION cafe_deleted_page_unsearched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'pages' THEN
        DELETE FROM search_index WHERE key = NEW.id;
    ELSIF EXISTS (SELECT 1 FROM pages WHERE id = NEW.page_id AND deleted_at IS NOT NULL) THEN
        DELETE FROM search_index WHERE key = -NEW.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER pages_zz_deleted_search AFTER INSERT ON pages
    FOR EACH ROW WHEN (NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION cafe_deleted_page_unsearched();
CREATE TRIGGER stories_zz_deleted_search AFTER INSERT ON stories
    FOR EACH ROW EXECUTE FUNCTION cafe_deleted_page_unsearched();
