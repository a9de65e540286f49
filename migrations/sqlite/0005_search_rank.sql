-- Search ranks with the index's own `rank` column, configured here once:
-- bm25 with weights for (title, body, tags, extra). A word in the title
-- counts ten times a word in the body, so title matches come first.
--
-- `src/search/db.rs` orders by `search_index.rank` and reads only the rowids
-- of the page of results in that pass; highlights and snippets are made
-- afterwards for the rows shown, never for every match.

INSERT INTO search_index (search_index, rank) VALUES ('rank', 'bm25(10.0, 1.0, 5.0, 2.0)');
