-- Cafe's schema. Timestamps are RFC 3339 UTC text. Revisions (of pages and
-- of stories) are append-only: triggers refuse UPDATE and DELETE.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,   -- normalised: NFKC, lower case
    skeleton      TEXT    NOT NULL UNIQUE,   -- confusable skeleton, refuses look-alikes
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    blocked       INTEGER NOT NULL DEFAULT 0,
    auth_epoch    INTEGER NOT NULL DEFAULT 0, -- bumped to end every session of the user
    created_at    TEXT    NOT NULL
);

CREATE TABLE pages (
    id               INTEGER PRIMARY KEY,
    slug             TEXT    NOT NULL UNIQUE,
    title            TEXT    NOT NULL,
    revision         INTEGER NOT NULL,        -- number of the current revision
    body             TEXT    NOT NULL,        -- current Markdown
    html             TEXT    NOT NULL,        -- current body rendered and sanitised at save
    tags             TEXT    NOT NULL DEFAULT '', -- current tags, comma separated, for display
    protected        INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    updated_by       INTEGER REFERENCES users(id)
);
CREATE INDEX pages_title ON pages(title COLLATE NOCASE);
CREATE INDEX pages_updated ON pages(updated_at);

CREATE TABLE revisions (
    id         INTEGER PRIMARY KEY,
    page_id    INTEGER NOT NULL REFERENCES pages(id),
    number     INTEGER NOT NULL,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    tags       TEXT    NOT NULL DEFAULT '',
    summary    TEXT    NOT NULL DEFAULT '',
    author_id  INTEGER REFERENCES users(id),  -- NULL: written by Cafe itself (seed, import)
    created_at TEXT    NOT NULL,
    UNIQUE (page_id, number)
);
CREATE INDEX revisions_author ON revisions(author_id);
CREATE TRIGGER revisions_are_append_only_update BEFORE UPDATE ON revisions
BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;
CREATE TRIGGER revisions_are_append_only_delete BEFORE DELETE ON revisions
BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;

-- Current tags of each page, for filtering and counting.
CREATE TABLE page_tags (
    page_id INTEGER NOT NULL REFERENCES pages(id),
    tag     TEXT    NOT NULL,
    PRIMARY KEY (page_id, tag)
) WITHOUT ROWID;
CREATE INDEX page_tags_tag ON page_tags(tag, page_id);

-- Wiki links in each page's current revision, by target slug (which may not exist yet).
CREATE TABLE page_links (
    from_page_id INTEGER NOT NULL REFERENCES pages(id),
    to_slug      TEXT    NOT NULL,
    PRIMARY KEY (from_page_id, to_slug)
) WITHOUT ROWID;
CREATE INDEX page_links_to ON page_links(to_slug, from_page_id);

-- The CCASS indicator table: each indicator is a tag (its code, lower-cased).
CREATE TABLE indicators (
    code        TEXT    PRIMARY KEY,       -- as the organisation writes it, e.g. LKM-1
    tag         TEXT    NOT NULL UNIQUE,   -- lower-cased code
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    grp         TEXT    NOT NULL DEFAULT '',
    sort        INTEGER NOT NULL DEFAULT 0,
    retired     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE stories (
    id         INTEGER PRIMARY KEY,
    page_id    INTEGER NOT NULL REFERENCES pages(id),
    author_id  INTEGER NOT NULL REFERENCES users(id),
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    html       TEXT    NOT NULL,
    outcome    TEXT    NOT NULL CHECK (outcome IN ('success', 'mixed', 'failure', 'too-early')),
    location   TEXT    NOT NULL DEFAULT '',
    revision   INTEGER NOT NULL DEFAULT 1,
    hidden     INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);
CREATE INDEX stories_page ON stories(page_id, id);
CREATE INDEX stories_author ON stories(author_id);

CREATE TABLE story_revisions (
    id         INTEGER PRIMARY KEY,
    story_id   INTEGER NOT NULL REFERENCES stories(id),
    number     INTEGER NOT NULL,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    location   TEXT    NOT NULL DEFAULT '',
    summary    TEXT    NOT NULL DEFAULT '',
    author_id  INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT    NOT NULL,
    UNIQUE (story_id, number)
);
CREATE TRIGGER story_revisions_are_append_only_update BEFORE UPDATE ON story_revisions
BEGIN SELECT RAISE(ABORT, 'story revisions are append-only'); END;
CREATE TRIGGER story_revisions_are_append_only_delete BEFORE DELETE ON story_revisions
BEGIN SELECT RAISE(ABORT, 'story revisions are append-only'); END;

CREATE TABLE replies (
    id         INTEGER PRIMARY KEY,
    story_id   INTEGER NOT NULL REFERENCES stories(id),
    author_id  INTEGER NOT NULL REFERENCES users(id),
    body       TEXT    NOT NULL,
    html       TEXT    NOT NULL,
    hidden     INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL
);
CREATE INDEX replies_story ON replies(story_id, id);

CREATE TABLE roster (
    page_id    INTEGER NOT NULL REFERENCES pages(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    tip        TEXT    NOT NULL DEFAULT '',
    location   TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (page_id, user_id)
) WITHOUT ROWID;
CREATE INDEX roster_user ON roster(user_id);

-- Recent changes: one row per thing that happened, newest last.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,  -- page, edit, story, reply, roster, admin
    page_id    INTEGER REFERENCES pages(id),
    story_id   INTEGER REFERENCES stories(id),
    revision   INTEGER,
    actor_id   INTEGER REFERENCES users(id),
    summary    TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL
);
CREATE INDEX events_kind ON events(kind, id);
CREATE INDEX events_page ON events(page_id, id);
