-- Collection loading, as the app runs it on the baseline schema: every checklist card of
-- collection $2 with whether user $1 owns it and how many copies (sum of quantity), plus the
-- collection's completion percentage on every row.
-- Same columns, types and order as get_collection_with_ownership($1, $2) (0006). Owning =
-- a cards row of the user with this checklist card, filed in this collection; completion =
-- round(100 * owned checklist cards / checklist size, 2); no rows for an empty checklist.
-- $1 user_id, $2 collection_id
SELECT cc.id AS checklist_card_id,
       cc.card_number,
       cc.player_name,
       cc.team,
       cc.variant_name,
       cc.base_card_id,
       count(c.id) > 0 AS owned,
       coalesce(sum(c.quantity), 0)::bigint AS owned_count,
       progress.completion_pct
  FROM checklist_cards cc
  LEFT JOIN cards c
         ON c.checklist_card_id = cc.id
        AND c.user_id = $1::bigint
        AND c.collection_id = $2::bigint
 CROSS JOIN (SELECT round(100.0 * count(DISTINCT c.checklist_card_id) FILTER (WHERE x.id IS NOT NULL)
                      / nullif((SELECT count(*) FROM checklist_cards s WHERE s.collection_id = $2::bigint), 0), 2) AS completion_pct
               FROM cards c
               LEFT JOIN checklist_cards x ON x.id = c.checklist_card_id AND x.collection_id = $2::bigint
              WHERE c.user_id = $1::bigint
                AND c.collection_id = $2::bigint) progress
 WHERE cc.collection_id = $2::bigint
 GROUP BY cc.id, progress.completion_pct
 ORDER BY cc.card_number, cc.id;
