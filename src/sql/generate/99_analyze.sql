-- Fresh statistics for the planner (the benchmark runs right after), then drop the helpers.
ANALYZE users, collections, checklist_cards, cards, personal_cards, posts, post_likes, post_comments, follows,
        conversations, conversation_participants, messages, notifications, sessions, activity_log;

DROP FUNCTION pg_temp.bz_post_age(bigint, bigint, bigint), pg_temp.bz_post_user(bigint, bigint, bigint),
              pg_temp.bz_conv_age(bigint, bigint, bigint), pg_temp.bz_member(bigint, bigint, bigint, integer),
              pg_temp.bz_conv_size(bigint, bigint), pg_temp.bz_orphan_id(double precision),
              pg_temp.bz_orphans(), pg_temp.bz_seed(), pg_temp.bz_count(bigint, bigint),
              pg_temp.bz_user_age(bigint, bigint), pg_temp.bz_ago(double precision),
              pg_temp.bz_pick(bigint, double precision, double precision),
              pg_temp.bz_u(bigint, bigint, integer), pg_temp.bz_t0();
