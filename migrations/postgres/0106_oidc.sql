-- Issue 17: signing in with the organisation's own accounts (OpenID Connect).
--
-- A member found by the provider's issuer and subject, never by an e-mail
-- address (which a provider may reassign). One identity per provider
-- account; a member may hold one per issuer.
CREATE TABLE oidc_identities (
    issuer    TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    user_id   BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    linked_at TEXT    NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX oidc_identities_by_user ON oidc_identities (user_id);

-- Sign-ins on their way through the provider: kept here, not in one
-- process's memory, so the callback may reach any instance. The state and
-- the browser's cookie are stored as hashes (a copy of this table cannot
-- finish anybody's sign-in); a row is taken once (replays fail) and is
-- worth nothing after ten minutes.
CREATE TABLE oidc_logins (
    state_hash    TEXT    PRIMARY KEY,
    browser_hash  TEXT    NOT NULL,
    pkce_verifier TEXT    NOT NULL,
    nonce         TEXT    NOT NULL,
    next          TEXT    NOT NULL,
    link_user_id  BIGINT,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX oidc_logins_by_age ON oidc_logins (created_at);
