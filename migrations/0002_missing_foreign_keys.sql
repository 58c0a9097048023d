-- 0002_missing_foreign_keys: the three foreign keys production lacks, all to checklist_cards(id):
--   checklist_cards.base_card_id, cards.checklist_card_id, personal_cards.checklist_card_id.
--
-- Runs statement by statement (the CONCURRENTLY index builds make the file non-transactional),
-- which is what we want here: every ALTER commits on its own, so
--   1. the index on each referencing column is built first, without blocking writes (it is
--      what makes the ON DELETE check of a checklist card an index lookup, not a table scan);
--   2. ADD CONSTRAINT ... NOT VALID takes a brief SHARE ROW EXCLUSIVE lock, checks new writes
--      from then on, and does not scan the table;
--   3. VALIDATE CONSTRAINT scans under SHARE UPDATE EXCLUSIVE: reads and writes go on.
-- Orphan rows (ids of checklist cards that no longer exist) make step 3 fail; boosterz-db runs
-- an orphan pre-flight before this migration. A rerun resumes at the failed VALIDATE.
--
-- ON DELETE choices:
--   * cards.checklist_card_id: RESTRICT. A card row is something a user physically owns;
--     deleting a reference card must neither delete it (CASCADE) nor silently make it an
--     unidentified card that drops out of every collection view and completion count
--     (SET NULL). A checklist correction first re-points the owned cards to the right
--     checklist card (merge), then deletes the wrong one. cleanup_old_data() never deletes
--     checklist cards, and deleting a user still cascades to their cards.
--   * checklist_cards.base_card_id: RESTRICT. A base card cannot disappear from under its
--     parallels; the curator re-points or deletes the variants first. Deleting a whole
--     collection still works: its checklist cards (bases and variants) go in one cascaded
--     statement, and RESTRICT is checked at the end of that statement (owned cards still
--     block it through cards.checklist_card_id and cards.collection_id).
--   * personal_cards.checklist_card_id: SET NULL. The link is optional by design (a personal
--     card lives outside any collection); the user's card must survive a checklist
--     correction, it just loses its optional reference.

-- serves: FK checklist_cards.base_card_id (ON DELETE RESTRICT check) and "variants of this base card"; partial: base cards (NULL) are most rows
CREATE INDEX CONCURRENTLY checklist_cards_base_card_id_idx ON public.checklist_cards (base_card_id) WHERE base_card_id IS NOT NULL;

-- serves: FK cards.checklist_card_id (ON DELETE RESTRICT check) and "who owns this checklist card"
CREATE INDEX CONCURRENTLY cards_checklist_card_user_idx ON public.cards (checklist_card_id, user_id);

-- serves: FK personal_cards.checklist_card_id (ON DELETE SET NULL) and "personal cards linked to this checklist card"; partial: unlinked (NULL) rows never match
CREATE INDEX CONCURRENTLY personal_cards_checklist_card_id_idx ON public.personal_cards (checklist_card_id) WHERE checklist_card_id IS NOT NULL;

ALTER TABLE public.checklist_cards
    ADD CONSTRAINT checklist_cards_base_card_id_fkey FOREIGN KEY (base_card_id)
    REFERENCES public.checklist_cards (id) ON DELETE RESTRICT NOT VALID;

ALTER TABLE public.cards
    ADD CONSTRAINT cards_checklist_card_id_fkey FOREIGN KEY (checklist_card_id)
    REFERENCES public.checklist_cards (id) ON DELETE RESTRICT NOT VALID;

ALTER TABLE public.personal_cards
    ADD CONSTRAINT personal_cards_checklist_card_id_fkey FOREIGN KEY (checklist_card_id)
    REFERENCES public.checklist_cards (id) ON DELETE SET NULL NOT VALID;

ALTER TABLE public.checklist_cards VALIDATE CONSTRAINT checklist_cards_base_card_id_fkey;

ALTER TABLE public.cards VALIDATE CONSTRAINT cards_checklist_card_id_fkey;

ALTER TABLE public.personal_cards VALIDATE CONSTRAINT personal_cards_checklist_card_id_fkey;
