-- Who a session belongs to is kept in memory (src/cache/sessions.rs), so a
-- member's page view reads no account row. It is kept while this counter
-- stands still: any change to an account (password, block, role, name,
-- sign-out everywhere) or its removal moves it, in the writer's own
-- transaction, by this process or another (`cafe user` while the server
-- runs). It is not content: it makes no kept page stale.
ALTER TABLE content_clock ADD COLUMN accounts INTEGER NOT NULL DEFAULT 1;

CREATE TRIGGER clock_account_update AFTER UPDATE ON users
BEGIN
    UPDATE content_clock SET accounts = accounts + 1;
END;

CREATE TRIGGER clock_account_delete AFTER DELETE ON users
BEGIN
    UPDATE content_clock SET accounts = accounts + 1;
END;
