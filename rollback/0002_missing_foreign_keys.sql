-- Rollback of 0002_missing_foreign_keys: drops the three foreign keys, then their indexes
-- (CONCURRENTLY, so the rollback does not block writes either). Every statement is
-- IF EXISTS so a rerun after a partial rollback finishes the job.
ALTER TABLE public.personal_cards DROP CONSTRAINT IF EXISTS personal_cards_checklist_card_id_fkey;

ALTER TABLE public.cards DROP CONSTRAINT IF EXISTS cards_checklist_card_id_fkey;

ALTER TABLE public.checklist_cards DROP CONSTRAINT IF EXISTS checklist_cards_base_card_id_fkey;

-- Puts back the orphan values that `boosterz-db migrate --orphans=detach` set to NULL before
-- validating (each was saved in boosterz_db.orphan_audit). Runs after the foreign keys are
-- gone, since those values point at checklist cards that do not exist. A value is restored
-- only where the column is still NULL: a row the application changed since (a card the user
-- re-identified) keeps its new value, and its audit row is kept so nothing is lost; the
-- NOTICE says how many were restored and how many left alone. A database migrated without
-- the tool has no audit table: nothing to restore.
DO $$
DECLARE
    v_restored bigint;
    v_kept bigint;
BEGIN
    IF to_regclass('boosterz_db.orphan_audit') IS NULL THEN
        RETURN;
    END IF;
    WITH restored AS (
        UPDATE public.cards t SET checklist_card_id = a.old_value::bigint
          FROM boosterz_db.orphan_audit a
         WHERE a.version = 2 AND a.table_name IN ('cards', 'public.cards') AND a.column_name = 'checklist_card_id'
           AND t.id = a.row_id::bigint AND t.checklist_card_id IS NULL
        RETURNING a.id
    ), restored_personal AS (
        UPDATE public.personal_cards t SET checklist_card_id = a.old_value::bigint
          FROM boosterz_db.orphan_audit a
         WHERE a.version = 2 AND a.table_name IN ('personal_cards', 'public.personal_cards') AND a.column_name = 'checklist_card_id'
           AND t.id = a.row_id::bigint AND t.checklist_card_id IS NULL
        RETURNING a.id
    ), restored_base AS (
        UPDATE public.checklist_cards t SET base_card_id = a.old_value::bigint
          FROM boosterz_db.orphan_audit a
         WHERE a.version = 2 AND a.table_name IN ('checklist_cards', 'public.checklist_cards') AND a.column_name = 'base_card_id'
           AND t.id = a.row_id::bigint AND t.base_card_id IS NULL
        RETURNING a.id
    ), done AS (
        DELETE FROM boosterz_db.orphan_audit a
         WHERE a.id IN (SELECT id FROM restored UNION ALL SELECT id FROM restored_personal UNION ALL SELECT id FROM restored_base)
        RETURNING 1
    )
    SELECT count(*) INTO v_restored FROM done;
    SELECT count(*) INTO v_kept FROM boosterz_db.orphan_audit a WHERE a.version = 2;
    RAISE NOTICE 'orphan values restored: %; left alone (changed since the migration, audit rows kept in boosterz_db.orphan_audit): %',
                 v_restored, v_kept;
END
$$;

DROP INDEX CONCURRENTLY IF EXISTS public.personal_cards_checklist_card_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.cards_checklist_card_user_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.checklist_cards_base_card_id_idx;
