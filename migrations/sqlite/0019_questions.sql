-- Issue 18, asking a practitioner.
--
-- A question asked in public is a story thread whose outcome is
-- `question`. SQLite cannot alter a CHECK constraint, and rebuilding
-- `stories` would mean re-creating its nine triggers; widening a CHECK
-- changes nothing stored, which is the case SQLite's documentation
-- ("Making Other Kinds Of Table Schema Changes") allows to be made by
-- editing the table's text in the schema. `writable_schema = RESET`
-- reloads this connection's schema; the `ALTER TABLE` below bumps the
-- schema version, so every other connection reloads it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, '''too-early''))', '''too-early'', ''question''))')
WHERE type = 'table' AND name = 'stories'
  AND sql LIKE '%''too-early''))%' AND sql NOT LIKE '%''question''%';
PRAGMA writable_schema = RESET;

-- Whether members may send this member questions through Cafe (about a
-- method whose roster they are on). On by default; the mail settings
-- page and a question mail's unsubscribe link turn it off.
ALTER TABLE mail_settings ADD COLUMN questions BOOLEAN NOT NULL DEFAULT TRUE;

