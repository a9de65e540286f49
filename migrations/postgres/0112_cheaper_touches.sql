-- Noting a touch (0102) costs less. Every save notes at least one, and
-- pg_stat_statements put the note at 0.26 ms and the flush at commit at
-- 0.53 ms of PostgreSQL's time per save (bench/saves.sh, 4 editors):
-- each note rebuilt the transaction's slug list as a sorted, distinct
-- array, parsed it back from text and wrote it out again.
--
-- Now a note appends the new slugs to a newline-separated list (slugs are
-- letters, digits and dashes: src/markup/slug.rs) and sets the flags only
-- when one is new; the flush makes the list distinct once, at commit.
-- What is flushed, and when, is what 0102 flushed.

CREATE OR REPLACE FUNCTION cafe_pend(flags text, slugs text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    had text := coalesce(current_setting('cafe.touched', true), '');
    added text := translate(flags, had, '');
    noted text;
BEGIN
    IF added <> '' THEN
        PERFORM set_config('cafe.touched', had || added, true);
    END IF;
    IF coalesce(cardinality(slugs), 0) = 0 THEN
        RETURN;
    END IF;
    noted := coalesce(current_setting('cafe.touched_slugs', true), '')
             || E'\n' || array_to_string(slugs, E'\n');
    PERFORM set_config('cafe.touched_slugs', noted, true);
    -- A bulk write (an import of thousands of pages in one transaction)
    -- moves the clock now and then rather than keep a list that every
    -- note copies again: it then holds the clock's row to its commit.
    IF length(noted) > 65536 THEN
        PERFORM cafe_flush_touches();
    END IF;
END $$;

CREATE OR REPLACE FUNCTION cafe_flush_touches() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    flags text := coalesce(current_setting('cafe.touched', true), '');
    noted text := coalesce(current_setting('cafe.touched_slugs', true), '');
    t bigint;
BEGIN
    IF flags = '' THEN
        RETURN;
    END IF;
    PERFORM set_config('cafe.touched', '', true);
    PERFORM set_config('cafe.touched_slugs', '', true);
    UPDATE content_clock
       SET tick = tick + CASE WHEN strpos(flags, 't') > 0 THEN 1 ELSE 0 END,
           lists = lists + CASE WHEN strpos(flags, 'l') > 0 THEN 1 ELSE 0 END,
           everything = everything + CASE WHEN strpos(flags, 'e') > 0 THEN 1 ELSE 0 END,
           accounts = accounts + CASE WHEN strpos(flags, 'a') > 0 THEN 1 ELSE 0 END
     WHERE id = 1
    RETURNING tick INTO t;
    IF noted <> '' THEN
        INSERT INTO page_ticks (slug, tick)
            SELECT DISTINCT s, t FROM unnest(string_to_array(noted, E'\n')) AS s
             WHERE s <> '' ORDER BY 1
            ON CONFLICT (slug) DO UPDATE SET tick = EXCLUDED.tick;
    END IF;
    PERFORM pg_notify('cafe_content', '');
END $$;
