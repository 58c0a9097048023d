-- 0003_indexes: the indexes behind the frequent queries (collections, ownership, social feed,
-- chat), one on every foreign-key column that did not have one (as leading column), and what
-- cleanup_old_data() needs. The three indexes of the new foreign keys are in 0002.
--
-- Every index is built CONCURRENTLY: no write is blocked, and the file runs statement by
-- statement (each one journaled; an interrupted build leaves an INVALID index that a rerun
-- drops and builds again). Rules kept: no duplicate, and no index whose key columns are a
-- leading prefix of another index on the same table (primary keys and unique constraints
-- included), whatever the predicate. The line above each statement names the query it serves.

-- serves: user search / @mention autocomplete: username prefix, case-insensitive (lower(username) LIKE 'abc%')
CREATE INDEX CONCURRENTLY users_username_lower_idx ON public.users (lower(username) text_pattern_ops);

-- serves: login and password reset by e-mail, case-insensitive (lower(email) = $1)
CREATE INDEX CONCURRENTLY users_email_lower_idx ON public.users (lower(email));

-- serves: user search by display-name prefix, case-insensitive
CREATE INDEX CONCURRENTLY users_display_name_lower_idx ON public.users (lower(display_name) text_pattern_ops) WHERE display_name IS NOT NULL;

-- serves: "recently active collectors" list (ORDER BY last_seen_at DESC NULLS LAST LIMIT n)
CREATE INDEX CONCURRENTLY users_last_seen_at_idx ON public.users (last_seen_at DESC NULLS LAST);

-- serves: admin dashboard and bench: newest sign-ups (ORDER BY created_at DESC LIMIT n)
CREATE INDEX CONCURRENTLY users_created_at_idx ON public.users (created_at DESC);

-- serves: browse collections of one brand, newest year first (WHERE brand = $1 ORDER BY release_year DESC)
CREATE INDEX CONCURRENTLY collections_brand_release_year_idx ON public.collections (brand, release_year DESC);

-- serves: browse collections by year, alphabetical (WHERE release_year = $1 ORDER BY name)
CREATE INDEX CONCURRENTLY collections_release_year_name_idx ON public.collections (release_year DESC, name);

-- serves: collection search by name prefix, case-insensitive
CREATE INDEX CONCURRENTLY collections_name_lower_idx ON public.collections (lower(name) text_pattern_ops);

-- serves: "new releases" per sport (WHERE sport = $1 ORDER BY release_date DESC LIMIT n)
CREATE INDEX CONCURRENTLY collections_sport_release_date_idx ON public.collections (sport, release_date DESC);

-- serves: catalogue admin: recently added collections
CREATE INDEX CONCURRENTLY collections_created_at_idx ON public.collections (created_at DESC);

-- serves: collection loading: a collection's checklist in card-number order (get_collection_with_ownership); completion totals per collection; FK checklist_cards.collection_id
CREATE INDEX CONCURRENTLY checklist_cards_collection_number_idx ON public.checklist_cards (collection_id, card_number, id);

-- serves: a collection's checklist filtered by team (WHERE collection_id = $1 AND team = $2)
CREATE INDEX CONCURRENTLY checklist_cards_collection_team_idx ON public.checklist_cards (collection_id, team);

-- serves: the parallels / variants of a collection, by variant name
CREATE INDEX CONCURRENTLY checklist_cards_collection_variant_idx ON public.checklist_cards (collection_id, variant_name) WHERE base_card_id IS NOT NULL;

-- serves: the rookie cards of a collection, by player
CREATE INDEX CONCURRENTLY checklist_cards_collection_rookie_idx ON public.checklist_cards (collection_id, player_name) WHERE is_rookie;

-- serves: the numbered parallels of a collection, rarest first (ORDER BY print_run)
CREATE INDEX CONCURRENTLY checklist_cards_collection_print_run_idx ON public.checklist_cards (collection_id, print_run) WHERE print_run IS NOT NULL;

-- serves: checklist search by player-name prefix across collections
CREATE INDEX CONCURRENTLY checklist_cards_player_lower_idx ON public.checklist_cards (lower(player_name) text_pattern_ops);

-- serves: a team's cards across collections (WHERE team = $1)
CREATE INDEX CONCURRENTLY checklist_cards_team_collection_idx ON public.checklist_cards (team, collection_id);

-- serves: collection loading: a user's ownership in one collection, index-only (get_collection_with_ownership); user stats and completion; FK cards.user_id
CREATE INDEX CONCURRENTLY cards_user_collection_checklist_idx ON public.cards (user_id, collection_id, checklist_card_id) INCLUDE (quantity);

-- serves: collectors of a collection (WHERE collection_id = $1); FK cards.collection_id (delete of a collection)
CREATE INDEX CONCURRENTLY cards_collection_user_idx ON public.cards (collection_id, user_id);

-- serves: profile: a user's recently added cards, keyset pagination
CREATE INDEX CONCURRENTLY cards_user_created_idx ON public.cards (user_id, created_at DESC, id DESC);

-- serves: app sync: a user's cards changed since the last sync (WHERE user_id = $1 AND updated_at > $2)
CREATE INDEX CONCURRENTLY cards_user_updated_at_idx ON public.cards (user_id, updated_at);

-- serves: a user's trade binder (cards offered for trade), and trade matching against another user's wants
CREATE INDEX CONCURRENTLY cards_trade_user_checklist_idx ON public.cards (user_id, checklist_card_id) WHERE is_for_trade;

-- serves: a user's cards for sale, by price
CREATE INDEX CONCURRENTLY cards_sale_user_price_idx ON public.cards (user_id, asking_price) WHERE is_for_sale;

-- serves: trade market: who offers this checklist card for trade, most recent first
CREATE INDEX CONCURRENTLY cards_trade_checklist_updated_idx ON public.cards (checklist_card_id, updated_at DESC) WHERE is_for_trade;

-- serves: marketplace: cheapest offers for this checklist card
CREATE INDEX CONCURRENTLY cards_sale_checklist_price_idx ON public.cards (checklist_card_id, asking_price) WHERE is_for_sale;

-- serves: a user's personal cards (outside collections), newest first, keyset; FK personal_cards.user_id
CREATE INDEX CONCURRENTLY personal_cards_user_created_idx ON public.personal_cards (user_id, created_at DESC, id DESC);

-- serves: search within a user's personal cards by player name
CREATE INDEX CONCURRENTLY personal_cards_user_player_idx ON public.personal_cards (user_id, lower(player_name));

-- serves: checklist matching: a user's personal cards not yet linked to a checklist card
CREATE INDEX CONCURRENTLY personal_cards_unlinked_idx ON public.personal_cards (user_id, id) WHERE checklist_card_id IS NULL;

-- serves: a user's personal cards offered for trade
CREATE INDEX CONCURRENTLY personal_cards_trade_user_idx ON public.personal_cards (user_id, updated_at DESC) WHERE is_for_trade;

-- serves: social feed: newest posts of each followed user, keyset on (created_at, id) (get_social_feed); profile posts; FK posts.user_id
CREATE INDEX CONCURRENTLY posts_user_created_idx ON public.posts (user_id, created_at DESC, id DESC);

-- serves: explore / global feed: newest posts of everyone, keyset
CREATE INDEX CONCURRENTLY posts_created_idx ON public.posts (created_at DESC, id DESC);

-- serves: "posts I liked"; FK post_likes.user_id (account deletion)
CREATE INDEX CONCURRENTLY post_likes_user_created_idx ON public.post_likes (user_id, created_at DESC);

-- serves: who liked this post, newest first (like_count and liked_by_me use the primary key)
CREATE INDEX CONCURRENTLY post_likes_post_created_idx ON public.post_likes (post_id, created_at DESC);

-- serves: comment thread of a post and comment_count (get_social_feed); FK post_comments.post_id
CREATE INDEX CONCURRENTLY post_comments_post_created_idx ON public.post_comments (post_id, created_at, id);

-- serves: a user's comments; FK post_comments.user_id (account deletion)
CREATE INDEX CONCURRENTLY post_comments_user_created_idx ON public.post_comments (user_id, created_at DESC);

-- serves: followers list (newest first) and followers count (get_user_stats); FK follows.followed_id
CREATE INDEX CONCURRENTLY follows_followed_created_idx ON public.follows (followed_id, created_at DESC);

-- serves: "following" list, newest first (counts and feed joins use the primary key)
CREATE INDEX CONCURRENTLY follows_follower_created_idx ON public.follows (follower_id, created_at DESC);

-- serves: moderation: newest conversations; last-activity fallback of an empty conversation
CREATE INDEX CONCURRENTLY conversations_created_at_idx ON public.conversations (created_at DESC);

-- serves: conversations of a user with last_read_at, index-only (get_user_conversations); FK conversation_participants.user_id
CREATE INDEX CONCURRENTLY conversation_participants_user_idx ON public.conversation_participants (user_id, conversation_id) INCLUDE (last_read_at);

-- serves: chat: last message and unread count per conversation (get_user_conversations), message history keyset; FK messages.conversation_id
CREATE INDEX CONCURRENTLY messages_conversation_created_idx ON public.messages (conversation_id, created_at DESC, id DESC) INCLUDE (sender_id);

-- serves: messages sent by a user (moderation, data export); FK messages.sender_id (account deletion)
CREATE INDEX CONCURRENTLY messages_sender_created_idx ON public.messages (sender_id, created_at DESC);

-- serves: notification list of a user, keyset; FK notifications.user_id
CREATE INDEX CONCURRENTLY notifications_user_created_idx ON public.notifications (user_id, created_at DESC, id DESC);

-- serves: unread badge: count of unread notifications per type
CREATE INDEX CONCURRENTLY notifications_user_unread_type_idx ON public.notifications (user_id, type) WHERE read_at IS NULL;

-- serves: cleanup_old_data(): read notifications older than the retention (read_at < now() - 90 days)
CREATE INDEX CONCURRENTLY notifications_read_at_idx ON public.notifications (read_at) WHERE read_at IS NOT NULL;

-- serves: admin / fan-out jobs: recent notifications of one type
CREATE INDEX CONCURRENTLY notifications_type_created_idx ON public.notifications (type, created_at DESC);

-- serves: authentication: session lookup on every request (WHERE token_hash = $1)
CREATE INDEX CONCURRENTLY sessions_token_hash_idx ON public.sessions (token_hash);

-- serves: "your devices": a user's sessions, most recent first; FK sessions.user_id
CREATE INDEX CONCURRENTLY sessions_user_last_seen_idx ON public.sessions (user_id, last_seen_at DESC);

-- serves: "log out everywhere": a user's not-revoked sessions
CREATE INDEX CONCURRENTLY sessions_user_active_idx ON public.sessions (user_id, expires_at) WHERE revoked_at IS NULL;

-- serves: cleanup_old_data(): sessions expired for longer than the retention
CREATE INDEX CONCURRENTLY sessions_expires_at_idx ON public.sessions (expires_at);

-- serves: cleanup_old_data(): sessions revoked for longer than the retention
CREATE INDEX CONCURRENTLY sessions_revoked_at_idx ON public.sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- serves: a user's activity history; FK activity_log.user_id
CREATE INDEX CONCURRENTLY activity_log_user_created_idx ON public.activity_log (user_id, created_at DESC);

-- serves: cleanup_old_data(): activity older than the retention (created_at < now() - 180 days)
CREATE INDEX CONCURRENTLY activity_log_created_at_idx ON public.activity_log (created_at);

-- serves: moderation: recent events of one kind (WHERE action = $1 ORDER BY created_at DESC)
CREATE INDEX CONCURRENTLY activity_log_action_created_idx ON public.activity_log (action, created_at DESC);

-- serves: audit: history of one entity (WHERE entity_type = $1 AND entity_id = $2)
CREATE INDEX CONCURRENTLY activity_log_entity_idx ON public.activity_log (entity_type, entity_id, created_at);
