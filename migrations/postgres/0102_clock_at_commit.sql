-- The content clock moves once per transaction, at its commit, instead of
-- at each write. Until now every content write transaction held the
-- clock's row from its first statement (src/db/mod.rs took it before
-- anything else) to its commit, so saves went one at a time with all
-- their round trips: 235 saves/s from 4 editors with synchronous_commit
-- on, though a commit's fsync takes about 100 µs.
--
-- Now the deriving triggers only note, in settings local to the
-- transaction, what the commit must move (`cafe_touch`): the tick, `lists`,
-- `everything`, `accounts`, and the slugs for `page_ticks`. A deferred
-- constraint trigger, queued once per transaction by its first content
-- write, moves the clock and writes `page_ticks` as the transaction commits
-- (`cafe_flush_touches`). The clock's row is locked from there to the end
-- of the commit, so ticks still follow commits: a reader that sees tick N
-- sees every commit that made a tick up to N. Only committers take the
-- row, and nothing is locked after it (page_ticks rows are written by the
-- clock's holder alone), so it is always the last lock a writer takes.
-- What the early turn also gave (no lost update, unique slugs, seeding
-- once, no deadlocks) is kept by locks in src/db/mod.rs and
-- src/pages/db/writes.rs.
--
-- Settings local to the transaction are undone with it, and with a
-- savepoint rolled back, as is a queued trigger event: what is flushed is
-- exactly what the transaction keeps.

-- Notes what the commit must move: `flags` letters t (tick), l (lists),
-- e (everything), a (accounts), and `slugs` for `page_ticks`.
CREATE FUNCTION cafe_pend(flags text, slugs text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    had text := coalesce(current_setting('cafe.touched', true), '');
    pending text[];
BEGIN
    PERFORM set_config('cafe.touched',
        CASE WHEN strpos(had || flags, 't') > 0 THEN 't' ELSE '' END
        || CASE WHEN strpos(had || flags, 'l') > 0 THEN 'l' ELSE '' END
        || CASE WHEN strpos(had || flags, 'e') > 0 THEN 'e' ELSE '' END
        || CASE WHEN strpos(had || flags, 'a') > 0 THEN 'a' ELSE '' END,
        true);
    IF coalesce(cardinality(slugs), 0) = 0 THEN
        RETURN;
    END IF;
    SELECT coalesce(array_agg(DISTINCT s), '{}') INTO pending
      FROM unnest(coalesce(nullif(current_setting('cafe.touched_slugs', true), ''), '{}')::text[]
                  || slugs) AS s
     WHERE s IS NOT NULL;
    PERFORM set_config('cafe.touched_slugs', pending::text, true);
    -- A bulk write (an import of thousands of pages in one transaction)
    -- moves the clock now and then rather than keep a list that every
    -- note would copy again: it then holds the clock's row to its commit,
    -- as every write did before.
    IF cardinality(pending) > 1000 THEN
        PERFORM cafe_flush_touches();
    END IF;
END $$;

-- Moves the clock for what the transaction noted, once, and tells the
-- instances listening (delivered when, and only if, this commits).
CREATE FUNCTION cafe_flush_touches() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    flags text := coalesce(current_setting('cafe.touched', true), '');
    slugs text[] := coalesce(nullif(current_setting('cafe.touched_slugs', true), ''), '{}')::text[];
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
    INSERT INTO page_ticks (slug, tick)
        SELECT s, t FROM unnest(slugs) AS s ORDER BY s
        ON CONFLICT (slug) DO UPDATE SET tick = EXCLUDED.tick;
    PERFORM pg_notify('cafe_content', '');
END $$;

-- The same signature the deriving triggers of 0001 call: a note now, the
-- move at commit.
CREATE OR REPLACE FUNCTION cafe_touch(slugs text[], p_lists boolean, p_everything boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cafe_pend(
        't' || CASE WHEN p_lists THEN 'l' ELSE '' END || CASE WHEN p_everything THEN 'e' ELSE '' END,
        slugs);
END $$;

CREATE OR REPLACE FUNCTION cafe_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cafe_pend('a', '{}');
    IF TG_OP = 'UPDATE' AND (OLD.display_name IS DISTINCT FROM NEW.display_name
                             OR OLD.blocked IS DISTINCT FROM NEW.blocked) THEN
        PERFORM cafe_touch('{}', false, true);
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$;

-- True for the first content row a transaction writes (and again after a
-- savepoint that had it rolled back): the deferred trigger below is queued
-- once per transaction, not once per row (a copy writes 100,000s of rows).
-- A constraint trigger's WHEN is evaluated as the row is written.
CREATE FUNCTION cafe_first_content_write() RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF current_setting('cafe.flush_queued', true) = 'on' THEN
        RETURN false;
    END IF;
    PERFORM set_config('cafe.flush_queued', 'on', true);
    RETURN true;
END $$;

-- Queued again by a later write should the event ever fire before the
-- commit (SET CONSTRAINTS ALL IMMEDIATE, which Cafe never says).
CREATE FUNCTION cafe_flush_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('cafe.flush_queued', '', true);
    PERFORM cafe_flush_touches();
    RETURN NULL;
END $$;

-- On every table whose triggers note a touch (0001); `users` only for
-- updates and deletes, like its trigger there.
CREATE CONSTRAINT TRIGGER pages_flush_at_commit AFTER INSERT OR UPDATE OR DELETE ON pages
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (cafe_first_content_write())
    EXECUTE FUNCTION cafe_flush_at_commit();
CREATE CONSTRAINT TRIGGER page_tags_flush_at_commit AFTER INSERT OR DELETE ON page_tags
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (cafe_first_content_write())
    EXECUTE FUNCTION cafe_flush_at_commit();
CREATE CONSTRAINT TRIGGER page_links_flush_at_commit AFTER INSERT OR DELETE ON page_links
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (cafe_first_content_write())
    EXECUTE FUNCTION cafe_flush_at_commit();
CREATE CONSTRAINT TRIGGER stories_flush_at_commit AFTER INSERT OR UPDATE OR DELETE ON stories
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (cafe_first_content_write())
    EXECUTE FUNCTION cafe_flush_at_commit();
CREATE CONSTRAINT TRIGGER replies_flush_at_commit AFTER INSERT OR UPDATE OR DELETE ON replies
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (cafe_first_content_write())
    EXECUTE FUNCTION cafe_flush_at_commit();
CREATE CONSTRAINT TRIGGER roster_flush_at_commit AFTER INSERT OR UPDATE OR DELETE ON roster
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (cafe_first_content_write())
    EXECUTE FUNCTION cafe_flush_at_commit();
CREATE CONSTRAINT TRIGGER indicators_flush_at_commit AFTER INSERT OR UPDATE OR DELETE ON indicators
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (cafe_first_content_write())
    EXECUTE FUNCTION cafe_flush_at_commit();
CREATE CONSTRAINT TRIGGER users_flush_at_commit AFTER UPDATE OR DELETE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (cafe_first_content_write())
    EXECUTE FUNCTION cafe_flush_at_commit();
