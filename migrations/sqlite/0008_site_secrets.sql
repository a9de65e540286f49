-- Secrets the site makes for itself once, kept in the database so that every
-- process serving it (several instances behind one proxy, a restart) uses the
-- same. `csrf` keys the MAC that binds the sign-in and join forms' tokens to
-- the visitor's `cafe_csrf` cookie, so those forms need no stored session.
CREATE TABLE site_secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
