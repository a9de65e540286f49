-- A member's unseen count (src/follow/db.rs, `mine`) with its plan kept.
--
-- Every member page view after content changed counts what the member
-- has not seen, and on PostgreSQL planning that statement cost more than
-- running it: pg_stat_statements (bench/save_statements.sh, 4 editors,
-- 1,000 pages) put it at 1.3 ms of planning and 0.4 ms of execution per
-- save, a quarter of PostgreSQL's time, because each edit form counts
-- again. Its `EXISTS` branches are planned afresh for every call.
--
-- Here the statement is planned once per connection (a generic plan) and
-- kept. A generic plan does not know how many events lie after the
-- bound, and the one PostgreSQL chose alone scanned every event (60 to
-- 100 ms at 100,000 pages): sequential scans are turned off for this
-- function, so the events are read through their primary key from the
-- bound on, as the per-call plans did. At 575,000 events a count takes
-- about 1 ms, against 2 to 4 ms planned per call.
--
-- The rule of what a member watches is WATCHED in src/follow/db.rs, which
-- the following list and the digest use on both backends and the count on
-- SQLite; it is written out again here and the two must say the same
-- (tests/it/following.rs counts each kind of watch on both backends).
CREATE FUNCTION cafe_unseen(p_user bigint, p_at_most bigint, p_look_back bigint,
                            p_after bigint, OUT unseen bigint, OUT upto bigint)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
    v_oldest bigint;
    v_from bigint;
BEGIN
    upto := COALESCE((SELECT MAX(id) FROM events), 0);
    unseen := 0;
    -- Before their oldest watch nothing can be theirs; no watch, nothing.
    v_oldest := (SELECT MIN(since_event) FROM watches
                 WHERE user_id = p_user AND level = 'watching');
    IF v_oldest IS NULL THEN
        RETURN;
    END IF;
    v_from := GREATEST(v_oldest, upto - p_look_back, p_after,
                       COALESCE((SELECT seen_event FROM follow_state WHERE user_id = p_user), 0));
    SELECT count(*) INTO unseen FROM (
        SELECT e.id FROM events e
        WHERE e.id > v_from AND e.id <= upto
          AND (e.actor_id IS NULL OR e.actor_id <> p_user)
          AND NOT EXISTS (SELECT 1 FROM watches m
                          WHERE m.user_id = p_user AND m.target = 'page:' || e.page_id
                            AND m.level = 'muted')
          AND (EXISTS (SELECT 1 FROM watches w
                       WHERE w.user_id = p_user AND w.target = 'page:' || e.page_id
                         AND w.level = 'watching' AND e.id > w.since_event)
               OR (e.kind IN ('story', 'reply')
                   AND EXISTS (SELECT 1 FROM watches w
                               WHERE w.user_id = p_user AND w.target = 'member:' || e.actor_id
                                 AND w.level = 'watching' AND e.id > w.since_event))
               OR (e.page_id IS NOT NULL
                   AND EXISTS (
                       SELECT 1 FROM watches w
                       WHERE w.user_id = p_user AND w.page_id IS NULL AND w.member_id IS NULL
                         AND w.level = 'watching' AND e.id > w.since_event
                         AND NOT EXISTS (
                             SELECT 1 FROM watch_tags wt
                             WHERE wt.user_id = w.user_id AND wt.target = w.target
                               AND NOT EXISTS (SELECT 1 FROM page_tags pt
                                               WHERE pt.page_id = e.page_id AND pt.tag = wt.tag)))))
        LIMIT p_at_most) AS counted;
END $$;
