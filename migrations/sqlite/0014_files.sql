-- Issue 16: files attached to method pages and stories.
--
-- The bytes are content-addressed: `file_blobs` holds one row per distinct
-- content (its BLAKE2b-256 hash, hex), so a file uploaded twice, or a
-- version restored, is stored once. The bytes themselves are split into
-- `file_chunks` of at most 512 KiB: a download or a range request reads
-- one chunk at a time (a whole 20 MiB blob in one row would be loaded into
-- memory by every read of any part of it).
--
-- `files` names a file on a page (`story_id` NULL) or on one of its
-- stories; `file_versions` holds every upload of that name, each
-- downloadable for ever. A hidden file stays in the database (admins).

CREATE TABLE file_blobs (
    hash   TEXT    PRIMARY KEY,
    size   INTEGER NOT NULL,
    chunks INTEGER NOT NULL
);

CREATE TABLE file_chunks (
    hash  TEXT    NOT NULL REFERENCES file_blobs(hash),
    n     INTEGER NOT NULL,
    bytes BLOB    NOT NULL,
    PRIMARY KEY (hash, n)
);

CREATE TABLE files (
    id         INTEGER PRIMARY KEY,
    page_id    INTEGER NOT NULL REFERENCES pages(id),
    story_id   INTEGER REFERENCES stories(id),
    name       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    hidden     INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);
CREATE UNIQUE INDEX files_name ON files (page_id, coalesce(story_id, 0), name);

CREATE TABLE file_versions (
    id          INTEGER PRIMARY KEY,
    file_id     INTEGER NOT NULL REFERENCES files(id),
    number      INTEGER NOT NULL,
    hash        TEXT    NOT NULL REFERENCES file_blobs(hash),
    size        INTEGER NOT NULL,
    media_type  TEXT    NOT NULL,
    width       INTEGER,
    height      INTEGER,
    thumb_hash  TEXT    REFERENCES file_blobs(hash),
    thumb_type  TEXT,
    description TEXT    NOT NULL DEFAULT '',
    uploaded_by INTEGER REFERENCES users(id),
    created_at  TEXT    NOT NULL,
    UNIQUE (file_id, number)
);
CREATE INDEX file_versions_uploader ON file_versions (uploaded_by);
CREATE INDEX file_versions_size ON file_versions (size);

-- A page's files are part of what its pages show (the file list, the
-- embedded images): a write to them makes that method's kept answers
-- stale, as a roster change does (0009).
CREATE TRIGGER clock_files_insert AFTER INSERT ON files
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT slug FROM pages WHERE id IN (new.page_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT slug FROM pages WHERE id IN (new.page_id)) s, content_clock c;
END;

CREATE TRIGGER clock_files_update AFTER UPDATE ON files
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT slug FROM pages WHERE id IN (old.page_id, new.page_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT slug FROM pages WHERE id IN (old.page_id, new.page_id)) s, content_clock c;
END;

CREATE TRIGGER clock_files_delete AFTER DELETE ON files
BEGIN
    UPDATE content_clock SET tick = tick + 1;
    DELETE FROM page_ticks WHERE slug IN (SELECT slug FROM pages WHERE id IN (old.page_id));
    INSERT INTO page_ticks (slug, tick)
        SELECT DISTINCT s.slug, c.tick FROM (SELECT slug FROM pages WHERE id IN (old.page_id)) s, content_clock c;
END;
