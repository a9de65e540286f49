-- The search index merges its segments in bigger steps: 16 at a time
-- instead of FTS5's default 4, and a level is merged all at once only past
-- 32 segments instead of 16 (`crisismerge` must stay above `automerge`).
-- Each save adds a small segment and pays for some merging; merging 16 at a
-- time writes each entry fewer times over its life (fewer levels), at the
-- price of more segments for a search to read. At 100,000 pages, 4 editors
-- saved 441-577 pages/s (mean 518 over 5 runs) instead of 331-418 with the
-- defaults and 414-536 with 8; 300 uncached searches after 10,000 saves
-- took 18 ms on average, as on the freshly loaded index (17.5 ms).
INSERT INTO search_index (search_index, rank) VALUES ('automerge', 16);
INSERT INTO search_index (search_index, rank) VALUES ('crisismerge', 32);
