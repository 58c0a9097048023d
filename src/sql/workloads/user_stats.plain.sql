-- User stats, as the app runs it on the baseline schema: user $1's totals (no row for an
-- unknown user). Same columns, types and order as get_user_stats($1) (0006):
--   total_cards              sum of quantity over the user's cards
--   distinct_checklist_cards distinct non-null checklist_card_id values among them
--   collections_started      distinct collections the user has cards in
--   collections_completed    collections with a non-empty checklist whose every checklist
--                            card the user owns (a cards row filed in that collection)
-- $1 user_id
SELECT u.id AS user_id,
       coalesce(owned.total_cards, 0) AS total_cards,
       coalesce(owned.distinct_checklist_cards, 0) AS distinct_checklist_cards,
       coalesce(owned.collections_started, 0) AS collections_started,
       (SELECT count(*)
          FROM (SELECT x.collection_id
                  FROM checklist_cards x
                  LEFT JOIN (SELECT DISTINCT c.collection_id, c.checklist_card_id
                               FROM cards c
                              WHERE c.user_id = u.id) mine
                         ON mine.collection_id = x.collection_id AND mine.checklist_card_id = x.id
                 WHERE x.collection_id IN (SELECT c.collection_id FROM cards c WHERE c.user_id = u.id)
                 GROUP BY x.collection_id
                HAVING count(mine.checklist_card_id) = count(*)) done) AS collections_completed,
       (SELECT count(*) FROM posts p WHERE p.user_id = u.id) AS posts_count,
       (SELECT count(*) FROM follows f WHERE f.followed_id = u.id) AS followers_count,
       (SELECT count(*) FROM follows f WHERE f.follower_id = u.id) AS following_count
  FROM users u
  LEFT JOIN (SELECT c.user_id,
                    sum(c.quantity)::bigint AS total_cards,
                    count(DISTINCT c.checklist_card_id) AS distinct_checklist_cards,
                    count(DISTINCT c.collection_id) AS collections_started
               FROM cards c
              WHERE c.user_id = $1::bigint
              GROUP BY c.user_id) owned ON owned.user_id = u.id
 WHERE u.id = $1::bigint;
