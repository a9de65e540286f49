-- What keeps a search fast on a large site (src/search/db/postgres.rs):
-- a first-time query must answer in tens of milliseconds at 100,000 pages,
-- where ranking every match of a common word took a second.
--
-- `heading`: the title (weight A) and tags (B) alone, so that the rows
-- with the words in their title or tags, the ones ranked first, are found
-- without reading every match's whole document.
--
-- `pairs`: every two words that follow each other in the document, as
-- one lexeme "first second" (no positions). A phrase of common words
-- ("village timeline") matches few rows, but the index of its words finds
-- every row having both; checking each one's positions read tens of
-- thousands of documents. The pairs index finds the few that have the
-- words side by side, and only those are checked. Derived from `document`
-- itself, so a phrase matches the pairs exactly when the document has the
-- words at adjacent positions (across the title/tags boundary too, as
-- `document` does).

CREATE FUNCTION cafe_pairs(doc tsvector) RETURNS tsvector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT coalesce(array_to_tsvector(array_agg(a.lexeme || ' ' || b.lexeme)), ''::tsvector)
          FROM (SELECT u.lexeme, p FROM unnest(doc) u, unnest(u.positions) p) a
          JOIN (SELECT u.lexeme, p FROM unnest(doc) u, unnest(u.positions) p) b ON b.p = a.p + 1 $$;

ALTER TABLE search_index
    ADD COLUMN heading tsvector NOT NULL GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', cafe_fold(title)), 'A')
        || setweight(to_tsvector('simple', cafe_fold(tags)), 'B')) STORED,
    ADD COLUMN pairs tsvector NOT NULL GENERATED ALWAYS AS (cafe_pairs(document)) STORED;

CREATE INDEX search_index_heading ON search_index USING gin (heading);
CREATE INDEX search_index_pairs ON search_index USING gin (pairs);
