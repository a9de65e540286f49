-- Wiki links make one method's pages show another's: a page lists the
-- pages linking to it ("Linked from here"), and a link shows whether its
-- target exists. So the content clock (0009) also moves the page ticks of
--   * a link's target, when a link is added or removed, and
--   * every page linking to a slug, when a method with that slug is
--     created, removed or renamed (its links turn real, missing or retitled).
-- Each trigger moves the tick itself first, so it is right whichever order
-- SQLite fires it in beside the 0009 triggers on the same table.

CREATE TRIGGER clock_link_insert AFTER INSERT ON page_links
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT new.to_slug AS slug);
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT new.to_slug AS slug) s, content_clock c;
END;

CREATE TRIGGER clock_link_delete AFTER DELETE ON page_links
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT old.to_slug AS slug);
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT old.to_slug AS slug) s, content_clock c;
END;

CREATE TRIGGER clock_linking_pages_on_insert AFTER INSERT ON pages
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (
        SELECT q.slug FROM page_links l JOIN pages q ON q.id = l.from_page_id
        WHERE l.to_slug = new.slug);
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT q.slug, c.tick FROM page_links l JOIN pages q ON q.id = l.from_page_id,
            content_clock c
        WHERE l.to_slug = new.slug;
END;

CREATE TRIGGER clock_linking_pages_on_update AFTER UPDATE OF slug, title ON pages
WHEN old.slug IS NOT new.slug OR old.title IS NOT new.title
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (
        SELECT q.slug FROM page_links l JOIN pages q ON q.id = l.from_page_id
        WHERE l.to_slug IN (old.slug, new.slug));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT q.slug, c.tick FROM page_links l JOIN pages q ON q.id = l.from_page_id,
            content_clock c
        WHERE l.to_slug IN (old.slug, new.slug);
END;

CREATE TRIGGER clock_linking_pages_on_delete AFTER DELETE ON pages
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (
        SELECT q.slug FROM page_links l JOIN pages q ON q.id = l.from_page_id
        WHERE l.to_slug = old.slug);
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT q.slug, c.tick FROM page_links l JOIN pages q ON q.id = l.from_page_id,
            content_clock c
        WHERE l.to_slug = old.slug;
END;
