-- Rollback of 0003_indexes: drops exactly the indexes 0003 creates, CONCURRENTLY and
-- IF EXISTS (a rerun after a partial rollback finishes the job).
DROP INDEX CONCURRENTLY IF EXISTS public.activity_log_entity_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.activity_log_action_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.activity_log_created_at_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.activity_log_user_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.sessions_revoked_at_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.sessions_expires_at_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.sessions_user_active_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.sessions_user_last_seen_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.sessions_token_hash_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.notifications_type_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.notifications_read_at_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.notifications_user_unread_type_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.notifications_user_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.messages_sender_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.messages_conversation_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.conversation_participants_user_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.conversations_created_at_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.follows_follower_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.follows_followed_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.post_comments_user_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.post_comments_post_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.post_likes_post_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.post_likes_user_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.posts_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.posts_user_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.personal_cards_trade_user_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.personal_cards_unlinked_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.personal_cards_user_player_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.personal_cards_user_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.cards_sale_checklist_price_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.cards_trade_checklist_updated_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.cards_sale_user_price_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.cards_trade_user_checklist_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.cards_user_updated_at_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.cards_user_created_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.cards_collection_user_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.cards_user_collection_checklist_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.checklist_cards_team_collection_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.checklist_cards_player_lower_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.checklist_cards_collection_print_run_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.checklist_cards_collection_rookie_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.checklist_cards_collection_variant_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.checklist_cards_collection_team_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.checklist_cards_collection_number_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.collections_created_at_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.collections_sport_release_date_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.collections_name_lower_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.collections_release_year_name_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.collections_brand_release_year_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.users_created_at_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.users_last_seen_at_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.users_display_name_lower_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.users_email_lower_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.users_username_lower_idx;
