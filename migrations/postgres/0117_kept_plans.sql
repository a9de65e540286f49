-- The two functions a save's search row calls on every write keep their
-- plans: written in PL/pgSQL, whose statements are planned once per
-- connection, where a SQL function that cannot be inlined is planned
-- again at each call. Neither can be inlined: `cafe_pair_hashes` reads
-- from a CTE, and `cafe_fold` calls `unaccent`, which is only STABLE.
--
-- Why: pg_stat_statements counted a plan for every call of both (five
-- folds and one set of pairs a save), 0.15 ms of PostgreSQL's time a save
-- (bench/save_statements.sh). `bench/saves_ab.sh`, alternating the binary
-- before this with this one: medians 382.6 and 412.5 saves/s (bench/RESULTS.md,
-- "Session of 2026-12-07 (eighth)").
--
-- What they return is what 0116 and 0001 returned, so nothing kept is
-- rewritten.

CREATE OR REPLACE FUNCTION cafe_pair_hashes(doc tsvector) RETURNS int4[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ BEGIN
        RETURN (WITH w AS MATERIALIZED (SELECT u.lexeme, p FROM unnest(doc) u, unnest(u.positions) p)
                SELECT coalesce(array_agg(hashtext(a.lexeme || ' ' || b.lexeme)), '{}')
                FROM w a JOIN w b ON b.p = a.p + 1);
    END $$;

CREATE OR REPLACE FUNCTION cafe_fold(text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ BEGIN RETURN lower(public.unaccent('public.unaccent'::regdictionary, $1)); END $$;
