-- Issue 18: following what happens. A member watches a method page, a tag
-- (or an AND filter of tags), or a member's stories; the Following page
-- lists the events (recent changes) on what they watch that they have not
-- seen. Nothing is fanned out at save time: a save writes its one event as
-- before, and each member's list is read from `events` when they look, so
-- a save costs the same whatever the number of watchers.
--
-- `target` names what is watched: `page:{id}`, `tags:{a}+{b}` (sorted),
-- `member:{id}`. `level` is `watching` (listed) or `muted` (never listed,
-- never watched again by default); no row is "normal". `since_event`: only
-- events after it count, so a new watcher is not shown a page's past.
CREATE TABLE watches (
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    target      TEXT    NOT NULL,
    page_id     BIGINT  REFERENCES pages(id) ON DELETE CASCADE,
    member_id   BIGINT  REFERENCES users(id) ON DELETE CASCADE,
    level       TEXT    NOT NULL,
    since_event BIGINT  NOT NULL,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (user_id, target)
);
CREATE INDEX watches_by_page ON watches (page_id, user_id);

-- The tags of a `tags:` watch: a page matches when it carries them all.
CREATE TABLE watch_tags (
    user_id BIGINT  NOT NULL,
    target  TEXT    NOT NULL,
    tag     TEXT    NOT NULL,
    PRIMARY KEY (user_id, target, tag),
    FOREIGN KEY (user_id, target) REFERENCES watches (user_id, target) ON DELETE CASCADE
);

-- Per member: events up to `seen_event` are seen; what they watch by
-- default (what they created, edited, told a story on, joined the roster
-- of). No row: nothing seen, everything watched by default.
CREATE TABLE follow_state (
    user_id      BIGINT  PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    seen_event   BIGINT  NOT NULL DEFAULT 0,
    auto_created BOOLEAN NOT NULL DEFAULT TRUE,
    auto_edited  BOOLEAN NOT NULL DEFAULT TRUE,
    auto_stories BOOLEAN NOT NULL DEFAULT TRUE,
    auto_roster  BOOLEAN NOT NULL DEFAULT TRUE
);

-- What members worked on before watching existed is watched from now on,
-- as if they had just done it: pages they edited (or created), told a
-- story on, or are on the roster of.
INSERT INTO watches (user_id, target, page_id, level, since_event, created_at)
SELECT DISTINCT w.user_id, 'page:' || w.page_id, w.page_id, 'watching',
       (SELECT COALESCE(MAX(id), 0) FROM events),
       to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
FROM (SELECT author_id AS user_id, page_id FROM revisions WHERE author_id IS NOT NULL
      UNION SELECT author_id, page_id FROM stories
      UNION SELECT user_id, page_id FROM roster) AS w;
