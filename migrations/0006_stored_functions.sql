-- 0006_stored_functions: one round trip for each critical operation of the app.
--   get_collection_with_ownership  collection loading
--   get_social_feed                 social feed (keyset pagination)
--   get_user_stats                  user stats (user_stats_optimized when fresh, else live)
--   get_user_conversations          conversations
--   batch_update_ownership          batch ownership update (write)
-- Each read function returns exactly what the plain query documented in migrations/README.md
-- returns on the baseline schema, in a total (deterministic) order.
-- Definitions (owned, completion_pct, complete) are those of 0004.

-- Collection loading: every checklist card of one collection with the user's ownership,
-- plus the completion percentage of that collection (same value on every row).
-- ORDER BY card_number, checklist_card_id.
CREATE FUNCTION public.get_collection_with_ownership(p_user_id bigint, p_collection_id bigint)
RETURNS TABLE (
    checklist_card_id bigint,
    card_number text,
    player_name text,
    team text,
    variant_name text,
    base_card_id bigint,
    owned boolean,
    owned_count bigint,
    completion_pct numeric
)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public, pg_temp
AS $$
    WITH ownership AS (
        SELECT c.checklist_card_id, sum(c.quantity)::bigint AS quantity
          FROM cards c
         WHERE c.user_id = p_user_id
           AND c.collection_id = p_collection_id
           AND c.checklist_card_id IS NOT NULL
         GROUP BY c.checklist_card_id
    )
    SELECT cc.id,
           cc.card_number,
           cc.player_name,
           cc.team,
           cc.variant_name,
           cc.base_card_id,
           o.quantity IS NOT NULL,
           coalesce(o.quantity, 0),
           round(100.0 * count(o.quantity) OVER () / count(*) OVER (), 2)
      FROM checklist_cards cc
      LEFT JOIN ownership o ON o.checklist_card_id = cc.id
     WHERE cc.collection_id = p_collection_id
     ORDER BY cc.card_number, cc.id
$$;

-- Social feed: the newest posts of the people p_user_id follows, with like and comment
-- counts and whether p_user_id liked each. Keyset pagination on (created_at, post_id) DESC:
-- first page with p_before_created_at NULL; next page with the created_at and post_id of the
-- last row received (p_before_id NULL means "strictly before p_before_created_at").
-- ORDER BY created_at DESC, post_id DESC LIMIT p_limit (NULL: no limit).
CREATE FUNCTION public.get_social_feed(
    p_user_id bigint,
    p_before_created_at timestamptz DEFAULT NULL,
    p_before_id bigint DEFAULT NULL,
    p_limit integer DEFAULT 20
)
RETURNS TABLE (
    post_id bigint,
    author_id bigint,
    author_username text,
    content text,
    image_url text,
    created_at timestamptz,
    like_count bigint,
    comment_count bigint,
    liked_by_me boolean
)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public, pg_temp
AS $$
    SELECT p.id,
           p.user_id,
           u.username,
           p.content,
           p.image_url,
           p.created_at,
           (SELECT count(*) FROM post_likes l WHERE l.post_id = p.id),
           (SELECT count(*) FROM post_comments pc WHERE pc.post_id = p.id),
           EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.user_id = p_user_id)
      FROM follows f
      JOIN posts p ON p.user_id = f.followed_id
      JOIN users u ON u.id = p.user_id
     WHERE f.follower_id = p_user_id
       AND (p.created_at, p.id) < (coalesce(p_before_created_at, 'infinity'::timestamptz),
                                   coalesce(p_before_id,
                                            CASE WHEN p_before_created_at IS NULL
                                                 THEN 9223372036854775807::bigint
                                                 ELSE (-9223372036854775807)::bigint - 1 END))
     ORDER BY p.created_at DESC, p.id DESC
     LIMIT p_limit
$$;

-- User stats: one row for an existing user, no row otherwise. Reads user_stats_optimized
-- when it has no pending stale mark (0005 guarantees it is then exact), else computes live
-- with the indexes of 0003: the result is the same either way.
CREATE FUNCTION public.get_user_stats(p_user_id bigint)
RETURNS TABLE (
    user_id bigint,
    total_cards bigint,
    distinct_checklist_cards bigint,
    collections_started bigint,
    collections_completed bigint,
    posts_count bigint,
    followers_count bigint,
    following_count bigint
)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, public, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF NOT EXISTS (SELECT 1 FROM materialized_view_stale_marks m WHERE m.view_name = 'user_stats_optimized')
       AND (SELECT c.relispopulated FROM pg_class c WHERE c.oid = 'user_stats_optimized'::regclass) THEN
        RETURN QUERY
            SELECT s.user_id, s.total_cards, s.distinct_checklist_cards, s.collections_started,
                   s.collections_completed, s.posts_count, s.followers_count, s.following_count
              FROM user_stats_optimized s
             WHERE s.user_id = p_user_id;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    RETURN QUERY
        SELECT u.id,
               coalesce((SELECT sum(c.quantity) FROM cards c WHERE c.user_id = u.id), 0)::bigint,
               (SELECT count(DISTINCT c.checklist_card_id) FROM cards c WHERE c.user_id = u.id),
               (SELECT count(DISTINCT c.collection_id) FROM cards c WHERE c.user_id = u.id),
               (SELECT count(*)
                  FROM (SELECT c.collection_id, count(DISTINCT cc.id) AS owned_checklist_cards
                          FROM cards c
                          JOIN checklist_cards cc
                            ON cc.id = c.checklist_card_id AND cc.collection_id = c.collection_id
                         WHERE c.user_id = u.id
                         GROUP BY c.collection_id) o
                 WHERE o.owned_checklist_cards = (SELECT count(*) FROM checklist_cards x
                                                   WHERE x.collection_id = o.collection_id)),
               (SELECT count(*) FROM posts p WHERE p.user_id = u.id),
               (SELECT count(*) FROM follows f WHERE f.followed_id = u.id),
               (SELECT count(*) FROM follows f WHERE f.follower_id = u.id)
          FROM users u
         WHERE u.id = p_user_id;
END;
$$;

-- Conversations: the conversations p_user_id takes part in, most recent activity first, with
-- the last message, the unread count (messages of others after the user's last_read_at, all
-- of them when last_read_at is NULL) and the other participants (ids and usernames, both
-- ordered by user id). last_activity_at = last message time, else conversation creation.
-- ORDER BY last_activity_at DESC, conversation_id DESC LIMIT p_limit (NULL: no limit).
CREATE FUNCTION public.get_user_conversations(p_user_id bigint, p_limit integer DEFAULT 50)
RETURNS TABLE (
    conversation_id bigint,
    title text,
    last_message_id bigint,
    last_message_sender_id bigint,
    last_message_content text,
    last_message_at timestamptz,
    last_activity_at timestamptz,
    unread_count bigint,
    other_participant_ids bigint[],
    other_participant_usernames text[]
)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public, pg_temp
AS $$
    SELECT c.id,
           c.title,
           lm.id,
           lm.sender_id,
           lm.content,
           lm.created_at,
           coalesce(lm.created_at, c.created_at),
           (SELECT count(*)
              FROM messages m
             WHERE m.conversation_id = c.id
               AND m.sender_id <> p_user_id
               AND (me.last_read_at IS NULL OR m.created_at > me.last_read_at)),
           ARRAY(SELECT op.user_id
                   FROM conversation_participants op
                  WHERE op.conversation_id = c.id AND op.user_id <> p_user_id
                  ORDER BY op.user_id),
           ARRAY(SELECT u.username
                   FROM conversation_participants op
                   JOIN users u ON u.id = op.user_id
                  WHERE op.conversation_id = c.id AND op.user_id <> p_user_id
                  ORDER BY op.user_id)
      FROM conversation_participants me
      JOIN conversations c ON c.id = me.conversation_id
      LEFT JOIN LATERAL (
            SELECT m.id, m.sender_id, m.content, m.created_at
              FROM messages m
             WHERE m.conversation_id = c.id
             ORDER BY m.created_at DESC, m.id DESC
             LIMIT 1) lm ON true
     WHERE me.user_id = p_user_id
     ORDER BY coalesce(lm.created_at, c.created_at) DESC, c.id DESC
     LIMIT p_limit
$$;

-- Batch ownership update: sets, in one call and one transaction, how many copies of each
-- checklist card the user owns. p_items is a JSON array of objects:
--   {"checklist_card_id": 12, "quantity": 2, "condition": "mint", "is_for_trade": true, "is_for_sale": false}
-- quantity 0 deletes every cards row of the user for that checklist card; quantity > 0 leaves
-- exactly one row (the oldest is kept and updated, further rows of the same checklist card are
-- merged into it, i.e. deleted) or inserts one, in the checklist card's collection.
-- condition / is_for_trade / is_for_sale are optional: when absent the row keeps its value
-- (new rows: NULL / false / false). Returns the number of rows inserted + updated + deleted
-- (an item that changes nothing counts 0). Raises 22023 on an invalid item, a duplicated
-- checklist_card_id, an unknown checklist card (quantity > 0) or an unknown user.
-- Concurrent calls for the same user are serialised (transaction advisory lock).
CREATE FUNCTION public.batch_update_ownership(p_user_id bigint, p_items jsonb)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_changed bigint := 0;
    v_rows bigint;
    v_bad text;
BEGIN
    IF p_items IS NULL OR jsonb_typeof(p_items) <> 'array' THEN
        RAISE EXCEPTION 'batch_update_ownership: p_items must be a JSON array of objects'
              USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_items) AS e WHERE jsonb_typeof(e) <> 'object') THEN
        RAISE EXCEPTION 'batch_update_ownership: every item of p_items must be a JSON object'
              USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users u WHERE u.id = p_user_id) THEN
        RAISE EXCEPTION 'batch_update_ownership: unknown user %', p_user_id USING ERRCODE = '22023';
    END IF;

    SELECT string_agg(coalesce(i.checklist_card_id::text, 'null'), ', ') INTO v_bad
      FROM jsonb_to_recordset(p_items) AS i(checklist_card_id bigint, quantity integer)
     WHERE i.checklist_card_id IS NULL OR i.quantity IS NULL OR i.quantity < 0;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'batch_update_ownership: items need a checklist_card_id and a quantity >= 0 (bad: %)', v_bad
              USING ERRCODE = '22023';
    END IF;
    SELECT string_agg(d.checklist_card_id::text, ', ') INTO v_bad
      FROM (SELECT i.checklist_card_id
              FROM jsonb_to_recordset(p_items) AS i(checklist_card_id bigint)
             GROUP BY i.checklist_card_id
            HAVING count(*) > 1) d;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'batch_update_ownership: checklist_card_id given more than once: %', v_bad
              USING ERRCODE = '22023';
    END IF;
    SELECT string_agg(i.checklist_card_id::text, ', ') INTO v_bad
      FROM jsonb_to_recordset(p_items) AS i(checklist_card_id bigint, quantity integer)
     WHERE i.quantity > 0
       AND NOT EXISTS (SELECT 1 FROM checklist_cards cc WHERE cc.id = i.checklist_card_id);
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'batch_update_ownership: unknown checklist card(s): %', v_bad
              USING ERRCODE = '22023';
    END IF;

    PERFORM pg_advisory_xact_lock(hashtext('boosterz.batch_update_ownership'), hashtext(p_user_id::text));

    -- quantity 0: the user no longer owns the card
    DELETE FROM cards c
     USING jsonb_to_recordset(p_items) AS i(checklist_card_id bigint, quantity integer)
     WHERE c.user_id = p_user_id
       AND c.checklist_card_id = i.checklist_card_id
       AND i.quantity = 0;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_changed := v_changed + v_rows;

    -- quantity > 0: merge duplicate rows into the oldest one
    DELETE FROM cards c
     USING jsonb_to_recordset(p_items) AS i(checklist_card_id bigint, quantity integer)
     WHERE c.user_id = p_user_id
       AND c.checklist_card_id = i.checklist_card_id
       AND i.quantity > 0
       AND c.id > (SELECT min(k.id) FROM cards k
                    WHERE k.user_id = p_user_id AND k.checklist_card_id = i.checklist_card_id);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_changed := v_changed + v_rows;

    UPDATE cards c
       SET quantity = i.quantity,
           collection_id = cc.collection_id,
           condition = coalesce(i.condition, c.condition),
           is_for_trade = coalesce(i.is_for_trade, c.is_for_trade),
           is_for_sale = coalesce(i.is_for_sale, c.is_for_sale),
           updated_at = now()
      FROM jsonb_to_recordset(p_items)
               AS i(checklist_card_id bigint, quantity integer, condition text, is_for_trade boolean, is_for_sale boolean)
      JOIN checklist_cards cc ON cc.id = i.checklist_card_id
     WHERE c.user_id = p_user_id
       AND c.checklist_card_id = i.checklist_card_id
       AND i.quantity > 0
       AND (c.quantity, c.collection_id, c.condition, c.is_for_trade, c.is_for_sale)
           IS DISTINCT FROM
           (i.quantity, cc.collection_id, coalesce(i.condition, c.condition),
            coalesce(i.is_for_trade, c.is_for_trade), coalesce(i.is_for_sale, c.is_for_sale));
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_changed := v_changed + v_rows;

    INSERT INTO cards (user_id, collection_id, checklist_card_id, quantity, condition, is_for_trade, is_for_sale)
    SELECT p_user_id, cc.collection_id, i.checklist_card_id, i.quantity, i.condition,
           coalesce(i.is_for_trade, false), coalesce(i.is_for_sale, false)
      FROM jsonb_to_recordset(p_items)
               AS i(checklist_card_id bigint, quantity integer, condition text, is_for_trade boolean, is_for_sale boolean)
      JOIN checklist_cards cc ON cc.id = i.checklist_card_id
     WHERE i.quantity > 0
       AND NOT EXISTS (SELECT 1 FROM cards c
                        WHERE c.user_id = p_user_id AND c.checklist_card_id = i.checklist_card_id);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_changed := v_changed + v_rows;

    RETURN v_changed;
END;
$$;

-- Privileges: every function is SECURITY INVOKER (the caller's own rights apply) and executable
-- by PUBLIC, as PostgreSQL creates functions. Where a DBA revoked that default (ALTER DEFAULT
-- PRIVILEGES … REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC), EXECUTE goes to each role that holds
-- every privilege the function's body uses (candidates: the grantees of those tables).
DO $$
DECLARE
    v_fn regprocedure;
    v_needs text[];
    v_grantee text;
BEGIN
    FOR v_fn, v_needs IN
        VALUES ('public.get_collection_with_ownership(bigint, bigint)'::regprocedure,
                ARRAY['public.cards:SELECT', 'public.checklist_cards:SELECT']),
               ('public.get_social_feed(bigint, timestamptz, bigint, integer)',
                ARRAY['public.follows:SELECT', 'public.posts:SELECT', 'public.users:SELECT', 'public.post_likes:SELECT', 'public.post_comments:SELECT']),
               ('public.get_user_stats(bigint)',
                ARRAY['public.user_stats_optimized:SELECT', 'public.materialized_view_stale_marks:SELECT', 'public.cards:SELECT',
                      'public.checklist_cards:SELECT', 'public.posts:SELECT', 'public.follows:SELECT', 'public.users:SELECT']),
               ('public.get_user_conversations(bigint, integer)',
                ARRAY['public.conversation_participants:SELECT', 'public.conversations:SELECT', 'public.messages:SELECT', 'public.users:SELECT']),
               ('public.batch_update_ownership(bigint, jsonb)',
                ARRAY['public.users:SELECT', 'public.checklist_cards:SELECT', 'public.cards:SELECT', 'public.cards:INSERT',
                      'public.cards:UPDATE', 'public.cards:DELETE'])
    LOOP
        CONTINUE WHEN pg_catalog.has_function_privilege('public', v_fn, 'EXECUTE');
        FOR v_grantee IN
            WITH needs AS (
                SELECT split_part(n, ':', 1)::regclass AS rel, split_part(n, ':', 2) AS priv FROM unnest(v_needs) AS n
            ), candidates AS (
                SELECT DISTINCT a.grantee
                  FROM needs x
                  JOIN pg_catalog.pg_class c ON c.oid = x.rel
                 CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
                 WHERE a.grantee <> c.relowner AND a.grantee <> 0
            )
            SELECT pg_catalog.quote_ident(r.rolname)
              FROM candidates k
              JOIN pg_catalog.pg_roles r ON r.oid = k.grantee
             WHERE NOT r.rolsuper
               AND NOT EXISTS (SELECT 1 FROM needs x WHERE NOT pg_catalog.has_table_privilege(r.rolname, x.rel, x.priv))
             ORDER BY 1
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', v_fn, v_grantee);
            RAISE NOTICE 'granted EXECUTE on % to % (PUBLIC has no EXECUTE here; it holds what the function uses)', v_fn, v_grantee;
        END LOOP;
    END LOOP;
END
$$;
