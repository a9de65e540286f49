-- The pairs index (0101) holds each pair of side-by-side words as a
-- 32-bit hash instead of as the text "first second".
--
-- Why: the pairs are the costliest part of a save's search row. Each save puts every
-- pair of the page (about 185 at 1.6 KB of text) into the pairs index
-- again, and entries of text cost that index more than integers do. With
-- the hashes the search row's update took 1.84-1.91 ms a save against
-- 2.27-2.32 ms with the text pairs, and PostgreSQL's CPU per save cycle
-- fell by a tenth (bench/save_statements.sh, bench/RESULTS.md, "Session
-- of 2026-12-07 (seventh)").
--
-- The pairs only ever narrow which rows are checked against the phrase
-- itself (`ts_match_vq` on `document`, src/search/db/postgres.rs): a row
-- whose hashes collide with a phrase's is checked and dropped, so the
-- results are the same. What is lost is the prefix pair ("after act"*):
-- a hash cannot be matched by its beginning, so a phrase's last pair
-- is left out when it ends in a prefix, and a two-word phrase with a
-- prefix is found through the words' index, as any other query.
--
-- `hashtext` is the hash PostgreSQL's hash indexes and hash partitions
-- store on disk, so it stays the same across upgrades.

CREATE FUNCTION cafe_pair_hashes(doc tsvector) RETURNS int4[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT coalesce(array_agg(DISTINCT hashtext(a.lexeme || ' ' || b.lexeme)), '{}')
          FROM (SELECT u.lexeme, p FROM unnest(doc) u, unnest(u.positions) p) a
          JOIN (SELECT u.lexeme, p FROM unnest(doc) u, unnest(u.positions) p) b ON b.p = a.p + 1 $$;

-- A phrase's pairs as Cafe's parser wrote them (a JSON list of
-- "first second"), hashed the same way.
CREATE FUNCTION cafe_query_pair_hashes(pairs text) RETURNS int4[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT coalesce(array_agg(DISTINCT hashtext(p)), '{}')
          FROM json_array_elements_text(pairs::json) p $$;

DROP INDEX search_index_pairs;
ALTER TABLE search_index DROP COLUMN pairs;
DROP FUNCTION cafe_pairs(tsvector);
ALTER TABLE search_index
    ADD COLUMN pairs int4[] NOT NULL GENERATED ALWAYS AS (cafe_pair_hashes(document)) STORED;
CREATE INDEX search_index_pairs ON search_index USING gin (pairs);
