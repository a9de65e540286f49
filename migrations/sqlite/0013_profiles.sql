-- Issue 15: a profile says whom to ask. A member's role, office or
-- country, what they can help with, and how to reach them (shown to
-- signed-in members only), each empty until the member fills it in
-- (GET/POST /account/profile). Changing them moves the accounts clock
-- (0010's trigger on every update of users); the display name, shown on
-- pages, also makes kept pages stale (0009's clock_user_shown).
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN office TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN helps_with TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN contact TEXT NOT NULL DEFAULT '';
