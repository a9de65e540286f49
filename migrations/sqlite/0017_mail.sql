-- Issue 18, e-mail: a member's address and delivery choice, the durable
-- outbox every mail goes through, what each member was last mailed about
-- per page, and the cursor of the task that turns events into mails.
--
-- `mail_settings`: `email` is where mail goes once `verified`; a changed
-- address is unverified until the link sent to it is opened (`verify_hash`
-- is a hash of that link's token, `verify_until` when it expires, unix ms).
-- `delivery` is `each`, `daily`, `weekly` or `off`. A digest lists the
-- changes after `digest_event` (and after what the member has seen);
-- `digest_at` is when the last was made (unix ms).
CREATE TABLE mail_settings (
    user_id      INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    email        TEXT    NOT NULL DEFAULT '',
    verified     BOOLEAN NOT NULL DEFAULT FALSE,
    delivery     TEXT    NOT NULL DEFAULT 'daily',
    verify_hash  TEXT,
    verify_until INTEGER,
    digest_event INTEGER NOT NULL DEFAULT 0,
    digest_at    INTEGER NOT NULL DEFAULT 0
);

-- One row per mail. `state`: pending (waiting for `next_attempt`, unix
-- ms), sending (taken by one sender until `lease_until`; a lease that ran
-- out goes back to pending), sent, failed (after the last attempt).
-- `dedupe_key` makes queuing the same mail twice a no-op. `kind` is
-- `verify`, `each` or `digest`; `items` is what an `each` mail lists (JSON),
-- so that a later change to the same page can be added to a pending mail.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    dedupe_key   TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL,
    user_id      INTEGER REFERENCES users(id) ON DELETE CASCADE,
    page_id      INTEGER REFERENCES pages(id) ON DELETE CASCADE,
    to_addr      TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    body_text    TEXT    NOT NULL,
    body_html    TEXT    NOT NULL,
    headers      TEXT    NOT NULL DEFAULT '',
    items        TEXT    NOT NULL DEFAULT '[]',
    state        TEXT    NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  INTEGER,
    last_error   TEXT    NOT NULL DEFAULT '',
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt);
CREATE INDEX outbox_by_member_page ON outbox (user_id, page_id, state);

-- The last event a member was mailed about, per page: no further mail
-- about that page until they have seen it (`follow_state.seen_event`).
CREATE TABLE mail_page_state (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    page_id      INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    mailed_event INTEGER NOT NULL,
    PRIMARY KEY (user_id, page_id)
);

-- The events already turned into mails, and which process does it now
-- (a lease, so that one instance at a time does).
CREATE TABLE mail_cursor (
    name        TEXT    PRIMARY KEY,
    last_event  INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER
);
INSERT INTO mail_cursor (name, last_event) SELECT 'each', COALESCE(MAX(id), 0) FROM events;
