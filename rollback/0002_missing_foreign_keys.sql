-- Rollback of 0002_missing_foreign_keys: drops the three foreign keys, then their indexes
-- (CONCURRENTLY, so the rollback does not block writes either). Every statement is
-- IF EXISTS so a rerun after a partial rollback finishes the job.
ALTER TABLE personal_cards DROP CONSTRAINT IF EXISTS personal_cards_checklist_card_id_fkey;

ALTER TABLE cards DROP CONSTRAINT IF EXISTS cards_checklist_card_id_fkey;

ALTER TABLE checklist_cards DROP CONSTRAINT IF EXISTS checklist_cards_base_card_id_fkey;

-- Puts back the orphan values that `boosterz-db migrate --orphans=detach` set to NULL before
-- validating (each was saved in boosterz_db.orphan_audit). Runs after the foreign keys are
-- gone, since those values point at checklist cards that do not exist. A database migrated
-- without the tool has no audit table: nothing to restore.
DO $$
BEGIN
    IF to_regclass('boosterz_db.orphan_audit') IS NOT NULL THEN
        UPDATE cards t SET checklist_card_id = a.old_value::bigint
          FROM boosterz_db.orphan_audit a
         WHERE a.version = 2 AND a.table_name = 'cards' AND a.column_name = 'checklist_card_id' AND t.id = a.row_id::bigint;
        UPDATE personal_cards t SET checklist_card_id = a.old_value::bigint
          FROM boosterz_db.orphan_audit a
         WHERE a.version = 2 AND a.table_name = 'personal_cards' AND a.column_name = 'checklist_card_id' AND t.id = a.row_id::bigint;
        UPDATE checklist_cards t SET base_card_id = a.old_value::bigint
          FROM boosterz_db.orphan_audit a
         WHERE a.version = 2 AND a.table_name = 'checklist_cards' AND a.column_name = 'base_card_id' AND t.id = a.row_id::bigint;
        DELETE FROM boosterz_db.orphan_audit WHERE version = 2;
    END IF;
END
$$;

DROP INDEX CONCURRENTLY IF EXISTS personal_cards_checklist_card_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS cards_checklist_card_user_idx;

DROP INDEX CONCURRENTLY IF EXISTS checklist_cards_base_card_id_idx;
