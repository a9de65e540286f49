-- How many rows of the search index the planner expects a query to match,
-- and how many rows the index has (src/search/db/postgres.rs,
-- `through_the_index`): read from the plan PostgreSQL would make, so from
-- the same statistics it plans by (the most common words of `document`,
-- sampled by ANALYZE; a prefix counts every common word it begins).
--
-- Cafe finds a query's words through the GIN index unless the words are
-- so common that reading the table until the first matches turn up is
-- cheaper: at 100,000 pages `work*` (88 % of the rows) took 24 ms through
-- the index, which lists every matching row before the first is read, and
-- 4.7 ms by the scan. The total is PostgreSQL's own count as of the last
-- VACUUM or ANALYZE (-1 before any: then Cafe keeps to the index).
CREATE FUNCTION cafe_matches_estimated(query tsquery, OUT matches float8, OUT total float8)
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    plan json;
BEGIN
    SELECT c.reltuples INTO total FROM pg_class c WHERE c.oid = 'search_index'::regclass;
    EXECUTE format('EXPLAIN (FORMAT JSON) SELECT 1 FROM search_index WHERE document @@ %L::tsquery',
                   query::text)
        INTO plan;
    matches := (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END $$;

-- The first `lim` rows with a query's words in their title or tags,
-- always through the heading index. A search that lets the planner scan
-- the table for its common words (above) must not scan it for their
-- titles too: those are rarer, and where the pages having them sit in
-- the table is not what the statistics assume (`check*`: 9 ms read before
-- the first title matched, against 1-5 ms through the index).
CREATE FUNCTION cafe_titled(query tsquery, lim bigint) RETURNS SETOF bigint
    LANGUAGE sql STABLE
    SET enable_seqscan = off
    AS $$ SELECT key FROM search_index WHERE heading @@ query LIMIT lim $$;
