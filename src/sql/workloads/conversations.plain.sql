-- Conversations, as the app runs it on the baseline schema: the conversations user $1
-- takes part in, latest activity first, with the last message, the unread count and the
-- other participants. Same columns, types and order as get_user_conversations($1, $2) (0006):
--   last message      the latest by (created_at, id)
--   last_activity_at  its time, else the conversation's creation time
--   unread_count      messages of others after the user's last_read_at (all when NULL)
--   other participants ids and usernames, both ordered by user id ({} when alone)
-- $1 user_id, $2 how many (NULL = all)
WITH mine AS (
    SELECT cp.conversation_id, cp.last_read_at
      FROM conversation_participants cp
     WHERE cp.user_id = $1::bigint
), last_message AS (
    SELECT DISTINCT ON (m.conversation_id) m.conversation_id, m.id, m.sender_id, m.content, m.created_at
      FROM messages m
      JOIN mine ON mine.conversation_id = m.conversation_id
     ORDER BY m.conversation_id, m.created_at DESC, m.id DESC
), unread AS (
    SELECT m.conversation_id, count(*) AS n
      FROM messages m
      JOIN mine ON mine.conversation_id = m.conversation_id
     WHERE m.sender_id <> $1::bigint
       AND (mine.last_read_at IS NULL OR m.created_at > mine.last_read_at)
     GROUP BY m.conversation_id
), others AS (
    SELECT op.conversation_id,
           array_agg(op.user_id ORDER BY op.user_id) AS ids,
           array_agg(u.username ORDER BY op.user_id) AS usernames
      FROM conversation_participants op
      JOIN mine ON mine.conversation_id = op.conversation_id
      JOIN users u ON u.id = op.user_id
     WHERE op.user_id <> $1::bigint
     GROUP BY op.conversation_id
)
SELECT c.id AS conversation_id,
       c.title,
       lm.id AS last_message_id,
       lm.sender_id AS last_message_sender_id,
       lm.content AS last_message_content,
       lm.created_at AS last_message_at,
       coalesce(lm.created_at, c.created_at) AS last_activity_at,
       coalesce(unread.n, 0) AS unread_count,
       coalesce(others.ids, '{}') AS other_participant_ids,
       coalesce(others.usernames, '{}') AS other_participant_usernames
  FROM mine
  JOIN conversations c ON c.id = mine.conversation_id
  LEFT JOIN last_message lm ON lm.conversation_id = c.id
  LEFT JOIN unread ON unread.conversation_id = c.id
  LEFT JOIN others ON others.conversation_id = c.id
 ORDER BY coalesce(lm.created_at, c.created_at) DESC, c.id DESC
 LIMIT $2::integer;
