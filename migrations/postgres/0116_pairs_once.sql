-- The pairs of side-by-side words (0115) are found with the document's
-- words and positions listed once, not twice, and without making the
-- hashes distinct.
--
-- Why: `cafe_pair_hashes` runs on every save (the search row's `pairs` is
-- generated from `document`), and it was the costliest part of the search
-- row after the indexes: 0.64 ms of PostgreSQL's time a save, besides
-- being planned again at each call (bench/save_statements.sh, bench/RESULTS.md,
-- "Session of 2026-12-07 (eighth)"). Listing the words once (a
-- materialized CTE joined with itself) and leaving out the sort that
-- DISTINCT needs took the function's time over the 1,119 search rows of
-- the bench corpus from 450-490 ms to 190-290 ms (psql, one-off).
--
-- Nothing else changes: GIN keeps each key of a row once whatever the
-- array holds, and `@>` asks whether every hash of the phrase is there,
-- so a row's pairs with repeated hashes match exactly the phrases its
-- distinct hashes matched. Rows written before this keep their distinct
-- arrays, which are equally right; nothing is rewritten.

CREATE OR REPLACE FUNCTION cafe_pair_hashes(doc tsvector) RETURNS int4[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ WITH w AS MATERIALIZED (SELECT u.lexeme, p FROM unnest(doc) u, unnest(u.positions) p)
          SELECT coalesce(array_agg(hashtext(a.lexeme || ' ' || b.lexeme)), '{}')
          FROM w a JOIN w b ON b.p = a.p + 1 $$;
