-- A member's unseen count also says how many of the events it counted lie
-- at or below `upto - p_window`: src/follow/db.rs (`mine`) keeps that part
-- and counts the last `p_window` events again next time.
--
-- Why: on PostgreSQL an event's id is taken when it is written, not when
-- its transaction commits, so a save can commit after a later-numbered
-- one. A count brought up to date from "the events after the last one
-- counted" then never saw it: the member's header missed that change until
-- the full count every 30 s (src/follow/mod.rs, KEEP_FOR). Counting the
-- last events again finds such a late commit while it is among them
-- (test `following::a_change_committed_after_a_later_numbered_one_is_counted`).
--
-- A new function beside `cafe_unseen` (0113), not a changed one: an
-- instance still running the release before this one, while its
-- neighbours run this, keeps calling the old, which now answers from the
-- new one (the events after `p_after`, as before), so the database holds
-- the rule of what a member watches once.

CREATE FUNCTION cafe_unseen_settling(p_user bigint, p_at_most bigint, p_look_back bigint,
                                     p_after bigint, p_window bigint,
                                     OUT unseen bigint, OUT settled bigint, OUT upto bigint)
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
    settled := 0;
    -- Before their oldest watch nothing can be theirs; no watch, nothing.
    v_oldest := (SELECT MIN(since_event) FROM watches
                 WHERE user_id = p_user AND level = 'watching');
    IF v_oldest IS NULL THEN
        RETURN;
    END IF;
    v_from := GREATEST(v_oldest, upto - p_look_back, p_after,
                       COALESCE((SELECT seen_event FROM follow_state WHERE user_id = p_user), 0));
    SELECT count(*), count(*) FILTER (WHERE counted.id <= upto - p_window)
      INTO unseen, settled
      FROM (
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
        ORDER BY e.id
        LIMIT p_at_most) AS counted;
END $$;

CREATE OR REPLACE FUNCTION cafe_unseen(p_user bigint, p_at_most bigint, p_look_back bigint,
                                       p_after bigint, OUT unseen bigint, OUT upto bigint)
LANGUAGE sql STABLE
AS $$ SELECT s.unseen, s.upto FROM cafe_unseen_settling(p_user, p_at_most, p_look_back, p_after, 0) AS s $$;
